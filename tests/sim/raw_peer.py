"""A bare TWS API peer over TCP (bytes in, frames out), for tests that check the gateway's
frames field by field rather than through a client library's decoder."""

from __future__ import annotations

import asyncio
import struct

from ibconsole.sim import PaperGateway
from ibconsole.sim.wire import FrameReader, encode_fields

__all__ = ["RawClient"]


class RawClient:
    """A bare TWS API peer: bytes in, frames out."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.frames = FrameReader()
        self.pending: list[list[str]] = []

    @classmethod
    async def open(cls, gateway: PaperGateway) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        return cls(reader, writer)

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    def hello(self, versions: bytes = b"v157..176") -> bytes:
        return b"API\0" + struct.pack(">I", len(versions)) + versions

    def send(self, *fields: object) -> None:
        self.writer.write(encode_fields(fields))

    async def receive(self, limit: float = 3.0) -> list[str]:
        async with asyncio.timeout(limit):
            while not self.pending:
                data = await self.reader.read(65536)
                if not data:
                    raise ConnectionError("closed by the gateway")
                self.pending += self.frames.feed(data)
        return self.pending.pop(0)

    async def receive_until(self, msg_id: str, limit: float = 3.0) -> list[str]:
        while True:
            fields = await self.receive(limit)
            if fields[0] == msg_id:
                return fields

    async def closed_by_peer(self, limit: float = 3.0) -> bool:
        async with asyncio.timeout(limit):
            while True:
                data = await self.reader.read(65536)
                if not data:
                    return True

    async def start(self, client_id: int) -> None:
        self.send_raw(self.hello())
        await self.receive()
        self.send(71, 2, client_id, "")
        await self.receive_until("9")

    def close(self) -> None:
        self.writer.close()
