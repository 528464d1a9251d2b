"""cosmic-ray's test command: ask the killer server about the mutant now on disk.

Standard library only (run with ``python3 -I -S``: it starts in milliseconds). Prints
the killer's answer (a JSON line, stored by cosmic-ray as the mutant's output) and
exits 1 when the mutant is killed (caught, timed out or crashed), 0 when it
survives, 3 when the killer itself failed (the report counts those apart).
"""

import json
import os
import socket
import sys

SOCKET = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".work", "killer.sock")


def ask(request: str = "judge") -> dict:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(SOCKET)
    client.sendall(request.encode() + b"\n")
    chunks = []
    while True:
        chunk = client.recv(1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    client.close()
    return json.loads(b"".join(chunks))


def main() -> int:
    request = sys.argv[1] if len(sys.argv) > 1 else "judge"
    try:
        answer = ask(request)
    except (OSError, ValueError) as error:
        print(json.dumps({"outcome": "error", "verdict": "no killer", "detail": f"{type(error).__name__}: {error}"}))
        return 3
    print(json.dumps(answer))
    if request != "judge":
        return 0
    return {"killed": 1, "timeout": 1, "crashed": 1, "survived": 0}.get(answer.get("outcome"), 3)


if __name__ == "__main__":
    sys.exit(main())
