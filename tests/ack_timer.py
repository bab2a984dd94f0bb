"""Times webhook answers from a process of its own: `python -m tests.ack_timer <url> <secret>`.

Reads one JSON list of `issue_comment` payloads per line on stdin, posts each (signed, one
after another) and writes one JSON line back: the seconds to each answer. A test whose
stand-in of GitHub runs in its own process (as `tests.world.World`'s does, in a thread) would
otherwise time the stand-in's work on the jobs' calls along with the server's answers: the
same interpreter lock serves both.
"""

from __future__ import annotations

import json
import sys
import time

import httpx

from tests.servers import post_webhook


def main() -> None:
    url, secret = sys.argv[1], sys.argv[2]
    with httpx.Client(timeout=30) as client:
        for line in sys.stdin:
            times: list[float] = []
            for payload in json.loads(line):
                started = time.perf_counter()
                response = post_webhook(client, url, secret, "issue_comment", payload)
                times.append(time.perf_counter() - started)
                if response.status_code != 200:
                    print(json.dumps({"status": response.status_code, "text": response.text}))
                    break
            else:
                print(json.dumps(times))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
