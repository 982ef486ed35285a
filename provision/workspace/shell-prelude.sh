# Sourced by bash before the code of every shell run (see podium-run): it restores the attendee's
# working directory and exported variables, and saves them again when the run ends - also after an
# `exit` in the code - so `cd` and `export` hold between runs as in one terminal.
# Only what the attendee changed is saved: exports that differ from the container's own environment.
__podium_saved=/root/.podium
cd /workshop 2>/dev/null
if [ -s "$__podium_saved/cwd" ]; then
    read -r __podium_cwd <"$__podium_saved/cwd"
    cd "$__podium_cwd" 2>/dev/null
    unset __podium_cwd
fi
# `declare -x NAME="value"` lines; sourced at top level so they stay global.
if [ -f "$__podium_saved/env" ]; then . "$__podium_saved/env" 2>/dev/null; fi

__podium_save() {
    local name kv
    local -A base=()
    while IFS= read -r -d '' kv; do base[${kv%%=*}]=${kv#*=}; done </proc/1/environ
    mkdir -p "$__podium_saved" 2>/dev/null
    echo "$PWD" >"$__podium_saved/cwd.$$" && mv -f "$__podium_saved/cwd.$$" "$__podium_saved/cwd"
    for name in $(compgen -e); do
        case "$name" in PWD | OLDPWD | SHLVL | _) continue ;; esac
        if [ -n "${base[$name]+set}" ] && [ "${base[$name]}" = "${!name}" ]; then continue; fi
        declare -p "$name"
    done >"$__podium_saved/env.$$" 2>/dev/null && mv -f "$__podium_saved/env.$$" "$__podium_saved/env"
}
trap __podium_save EXIT
