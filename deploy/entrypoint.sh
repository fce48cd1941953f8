#!/bin/sh
# gpt2bot's container entrypoint.
#
#   run | chat | db upgrade | model info | config show | --version   python -m bot ...
#   healthcheck      exit 0 when /healthz answers 200 (port: GPT2BOT_HEALTH__PORT, default 9090)
#   anything else    run as given (a shell, a one-off script)
#
# `exec` replaces this shell with the bot, so `docker stop`'s SIGTERM reaches the bot itself. Run the
# container with an init as PID 1 (`docker run --init`, compose's `init: true`) to forward signals
# and reap children.
set -eu

command="${1:-run}"
case "$command" in
    run | chat | db | model | config | --version | --help | -h)
        exec python -m bot "$@"
        ;;
    healthcheck)
        port="${GPT2BOT_HEALTH__PORT:-9090}"
        exec python - "$port" <<'PY'
import sys
import urllib.request

try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError as exc:
    print(f"healthz: {exc}", file=sys.stderr)
    sys.exit(1)
PY
        ;;
    *)
        exec "$@"
        ;;
esac
