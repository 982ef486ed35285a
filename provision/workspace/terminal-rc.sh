# The bash of the attendee's terminal (podium-shell) reads this instead of ~/.bashrc: the exports runs
# left (their working directory is already the session's), a plain prompt, and ~/.bashrc when it exists.
# Unlike a run's prelude it never saves: a `cd` or `export` in the terminal does not change the next Run.
if [ -f /root/.podium/env ]; then . /root/.podium/env 2>/dev/null; fi
if [ -f /root/.bashrc ]; then . /root/.bashrc; fi
PS1='\[\e[1;34m\]\w\[\e[0m\] \$ '
