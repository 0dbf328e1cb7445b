#!/bin/sh
# Started by node-rtsp-stream's Mpeg1Muxer in place of ffmpeg, for the live view
# (src/web/live/muxerProcess.ts). The muxer runs `<this> -i <url> -f mpegts ... -` and has no
# way to put anything before `-i`; the agent writes that part on stdin, one argument per
# line: the launch prefix (setpriv --pdeathsig KILL --, so ffmpeg dies with the agent),
# ffmpeg itself and its input options. They are run with the muxer's arguments after them.
set -f
IFS='
'
command=$(cat)
if [ -z "$command" ]; then
  echo "live view launcher: no command on stdin" >&2
  exit 2
fi
# The agent may have died while this started: its death signal would never come then.
kill -0 "$PPID" 2>/dev/null || exit 1
# shellcheck disable=SC2086 # split on line breaks only (IFS), globbing off (set -f)
set -- $command "$@"
exec "$@"
