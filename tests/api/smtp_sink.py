"""smtp_sink.py — a real SMTP server on loopback for the delivery tests.

Run with Debian's interpreter (python3-aiosmtpd is a Debian package):
    /usr/bin/python3 tests/api/smtp_sink.py DIR
Listens on a free 127.0.0.1 port (aiosmtpd's Controller), prints
"PORT <n>" once it accepts connections, and writes every message it
receives to DIR/<n>.eml (the DATA as received, envelope in X-Envelope-*
headers). Stops on SIGTERM or when its stdin closes.
"""

import os
import signal
import socket
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, folder):
        self.folder = folder
        self.n = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.n += 1
            n = self.n
        head = "X-Envelope-From: %s\r\nX-Envelope-To: %s\r\n" % (envelope.mail_from, ",".join(envelope.rcpt_tos))
        tmp = os.path.join(self.folder, "%d.tmp" % n)
        with open(tmp, "wb") as f:
            f.write(head.encode() + envelope.original_content)
        os.rename(tmp, os.path.join(self.folder, "%d.eml" % n))
        return "250 Message accepted for delivery"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    folder = sys.argv[1]
    os.makedirs(folder, exist_ok=True)
    port = free_port()
    ctl = Controller(Sink(folder), hostname="127.0.0.1", port=port)
    ctl.start()
    print("PORT %d" % port, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    ctl.stop()


if __name__ == "__main__":
    main()
