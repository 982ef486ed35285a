# Sourced by bash before the code of every shell run (see podium-run): it restores the attendee's
# working directory and exported variables, and saves them again when the run ends - also after an
# `exit` in the code - so `cd` and `export` hold between runs as in one terminal.
# Only what the attendee changed is saved: exports that differ from the container's own environment.
# What was saved is kept as read (__podium_was_*): a file that would not change is not written again, since
# writing one safely takes a `mv` process, milliseconds at the end of every run.
__podium_saved=/root/.podium
__podium_was_cwd= __podium_was_env=
cd /workshop 2>/dev/null
if [ -s "$__podium_saved/cwd" ]; then
    read -r __podium_was_cwd <"$__podium_saved/cwd"
    cd "$__podium_was_cwd" 2>/dev/null
fi
# `declare -x NAME=value` lines (-ix, -xu ... for those attributes); sourced at top level so they stay global.
if [ -f "$__podium_saved/env" ]; then
    IFS= read -r -d '' __podium_was_env <"$__podium_saved/env"
    . "$__podium_saved/env" 2>/dev/null
fi

__podium_save() {
    local name kv line attrs text=
    local -A base=()
    while IFS= read -r -d '' kv; do base[${kv%%=*}]=${kv#*=}; done </proc/1/environ
    [ -d "$__podium_saved" ] || mkdir -p "$__podium_saved" 2>/dev/null
    if [ "$PWD" != "$__podium_was_cwd" ]; then
        echo "$PWD" >"$__podium_saved/cwd.$$" && mv -f "$__podium_saved/cwd.$$" "$__podium_saved/cwd"
    fi
    for name in $(compgen -e); do
        case "$name" in PWD | OLDPWD | SHLVL | _) continue ;; esac
        if [ -n "${base[$name]+set}" ] && [ "${base[$name]}" = "${!name}" ]; then continue; fi
        attrs=${!name@a} # kept as `declare -ix` etc.: an exported integer still adds up in the next run
        printf -v line 'declare -%s %s=%q\n' "${attrs//[^xilu]/}" "$name" "${!name}"
        text+=$line
    done
    if [ "$text" != "$__podium_was_env" ]; then
        printf '%s' "$text" >"$__podium_saved/env.$$" 2>/dev/null && mv -f "$__podium_saved/env.$$" "$__podium_saved/env"
    fi
}
trap __podium_save EXIT
