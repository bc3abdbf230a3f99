"""Raw HTTP/2 frames for tests that must send what no well-behaved client would (RFC 9113 §4,
HPACK RFC 7541 without Huffman): a preface, SETTINGS, HEADERS/CONTINUATION blocks, DATA."""
import struct

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 7, 8, 9
END_STREAM, END_HEADERS = 0x1, 0x4


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + \
        struct.pack(">I", stream) + payload


def settings(**values):
    ids = {"header_table_size": 1, "initial_window_size": 4, "max_frame_size": 5}
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", ids[k], v)
                                          for k, v in values.items()))


def integer(value, prefix_bits, first=0):
    """RFC 7541 §5.1 integer with an N-bit prefix (`first`: the flag bits above it)."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def literal(name, value, index=False):
    """A literal field, new name; `index`: with incremental indexing (it enters the dynamic
    table at index 62)."""
    name, value = name.encode(), value.encode() if isinstance(value, str) else value
    return (b"\x40" if index else b"\x00") + integer(len(name), 7) + name + \
        integer(len(value), 7) + value


def indexed(i):
    return integer(i, 7, 0x80)


def request_block(path, authority="mydb", method="GET", extra=()):
    """:method, :scheme http, :path, :authority, then `extra` (name, value) pairs."""
    block = literal(":method", method) + literal(":scheme", "http") + literal(":path", path) + \
        literal(":authority", authority)
    for name, value in extra:
        block += literal(name, value)
    return block


def read_frames(sock, until_type=None, limit=1 << 20):
    """(frames (type, flags, stream, payload), closed): read until a frame of `until_type`, the
    peer's close (closed True) or the socket's timeout."""
    buf, frames = b"", []
    try:
        while len(buf) < limit:
            chunk = sock.recv(65536)
            if not chunk:
                return frames, True
            buf += chunk
            while len(buf) >= 9:
                length = int.from_bytes(buf[:3], "big")
                if len(buf) < 9 + length:
                    break
                f = (buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF,
                     buf[9:9 + length])
                frames.append(f)
                buf = buf[9 + length:]
                if until_type is not None and f[0] == until_type:
                    return frames, False
    except ConnectionResetError:
        return frames, True
    except OSError:  # the socket's timeout
        pass
    return frames, False
