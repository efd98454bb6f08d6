"""A small SMTP server on a free local port, for the e-mail failure tests: it speaks enough of
the protocol for smtplib, keeps every message it accepts, and in "hang" mode takes the whole
message and then never answers the end of DATA: the ambiguous failure, where the client times
out although the server may well deliver the mail."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class SmtpServer:
    port: int
    mode: str  # "accept", "hang" or "refuse" (550 to every recipient)
    received: list[bytes] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


@contextmanager
def smtp_server(mode: str = "accept") -> Iterator[SmtpServer]:
    state = SmtpServer(port=0, mode=mode)

    class Session(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")
            self.wfile.flush()

        def handle(self) -> None:
            self.reply("220 test SMTP")
            while line := self.rfile.readline():
                verb = line.split(b" ", 1)[0].strip().upper()
                if verb in (b"EHLO", b"HELO"):
                    self.reply("250 test")
                elif verb == b"MAIL":
                    self.reply("250 sender ok")
                elif verb == b"RCPT":
                    self.reply("550 no such user" if state.mode == "refuse" else "250 ok")
                elif verb == b"DATA":
                    self.reply("354 end with <CRLF>.<CRLF>")
                    body = b""
                    while (chunk := self.rfile.readline()) and chunk != b".\r\n":
                        body += chunk
                    state.received.append(body)
                    if state.mode == "hang":
                        state.release.wait(30)  # taken, never acknowledged
                        return
                    self.reply("250 queued")
                elif verb == b"QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("250 ok")

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    with Server(("127.0.0.1", 0), Session) as server:
        state.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield state
        finally:
            state.release.set()
            server.shutdown()


