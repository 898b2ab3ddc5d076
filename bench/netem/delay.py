#!/usr/bin/env python3
"""Packet delay for the bench's latency matrix: python3 delay.py DELAY_MS [QUEUE]

Started by bench/netem/netns.ts inside a network namespace whose INPUT chain sends every packet
that arrives on lo to NFQUEUE QUEUE. This process hears of each packet (its id only, never its
bytes) and lets it through DELAY_MS later. Both directions cross lo, so a round trip costs
2 x DELAY_MS and real TCP (handshake, slow start, loss recovery) sees it. The kernel here has
no netem qdisc, hence user space. Standard library only, so the bench runs from a fresh clone.

Its CPU time is read from /proc by the bench: near a full core, this process is the bottleneck
and the point is reported as limited by the emulation.
"""
import collections
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_CONFIG, NFQNL_MSG_VERDICT_BATCH = 0, 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLMSG_ERROR = 1, 4, 2
NF_ACCEPT = 1
SO_RCVBUFFORCE, SOL_NETLINK, NETLINK_NO_ENOBUFS = 33, 270, 5
CFG_CMD, CFG_PARAMS, CFG_QUEUE_MAXLEN, CFG_MASK, CFG_FLAGS = 1, 2, 3, 4, 5
CMD_BIND, COPY_META, F_GSO = 1, 1, 4
ATTR_PACKET_HDR, ATTR_VERDICT_HDR = 1, 2


def nla(kind, payload):
    """One netlink attribute, padded to 4 bytes."""
    size = 4 + len(payload)
    return struct.pack("=HH", size, kind) + payload + bytes(-size % 4)


def nfq_message(queue, kind, attrs, flags=NLM_F_REQUEST):
    body = struct.pack("!BBH", socket.AF_UNSPEC, 0, queue) + b"".join(attrs)
    header = struct.pack("=IHHII", 16 + len(body), NFNL_SUBSYS_QUEUE << 8 | kind, flags, 0, 0)
    return header + body


def configure(sock, queue, attrs):
    sock.send(nfq_message(queue, NFQNL_MSG_CONFIG, attrs, NLM_F_REQUEST | NLM_F_ACK))
    reply = sock.recv(4096)
    if struct.unpack_from("=H", reply, 4)[0] == NLMSG_ERROR:
        errno = -struct.unpack_from("=i", reply, 16)[0]
        if errno:
            sys.exit(f"delay.py: configuring NFQUEUE {queue} failed (errno {errno}): is this root, inside the namespace?")


def packet_ids(data):
    """Ids of the queued packets announced in one netlink read."""
    off = 0
    while off + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, off)
        if length < 16:
            return
        if kind == NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET:
            at = off + 20  # nlmsghdr (16) + nfgenmsg (4)
            while at + 4 <= off + length:
                size, akind = struct.unpack_from("=HH", data, at)
                if size < 4:
                    break
                if akind & 0x3FFF == ATTR_PACKET_HDR:
                    yield struct.unpack_from("!I", data, at + 4)[0]
                    break
                at += (size + 3) & ~3
        off += (length + 3) & ~3


def main():
    delay = float(sys.argv[1]) / 1000
    queue = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
    # A notice lost to a full socket buffer is harmless: the next batch verdict releases it too.
    sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
    sock.bind((0, 0))
    configure(sock, queue, [nla(CFG_CMD, struct.pack("!BBH", CMD_BIND, 0, 0))])
    configure(sock, queue, [
        nla(CFG_PARAMS, struct.pack("!IB", 0, COPY_META)),
        nla(CFG_QUEUE_MAXLEN, struct.pack("!I", 1 << 16)),
        nla(CFG_MASK, struct.pack("!I", F_GSO)),
        nla(CFG_FLAGS, struct.pack("!I", F_GSO)),
    ])
    print(f"ready: queue {queue}, {delay * 1000:g} ms each way", flush=True)

    sock.setblocking(False)
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    # Every packet waits the same time, so arrival order is release order: a FIFO is enough,
    # and one batch verdict ("accept every id up to N") releases all that are due. Ids grow with
    # each packet, so a wake-up keeps only the newest id it read: one entry, not one per packet.
    # The per-packet work (one recv each: the kernel sends a message per packet) is kept to a
    # recv_into and one fixed-offset read; this process's CPU is taken from the tools' 2 cores.
    due = collections.deque()
    buf = bytearray(1 << 16)
    recv_into = sock.recv_into
    first = struct.Struct("=IH16xH")  # length, type; type of the first attribute
    packet_id = struct.Struct("!I")
    packet_kind = NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET
    while True:
        timeout = None if not due else max(0.0, (due[0][0] - time.monotonic()) * 1000)
        poller.poll(timeout)
        release_at = time.monotonic() + delay
        newest = -1
        while True:
            try:
                n = recv_into(buf)
            except BlockingIOError:
                break
            length, kind, akind = first.unpack_from(buf) if n >= 28 else (0, 0, 0)
            if length == n and kind == packet_kind and akind & 0x3FFF == ATTR_PACKET_HDR:
                newest = packet_id.unpack_from(buf, 24)[0]  # the kernel puts the packet header first
            else:
                newest = max(newest, *packet_ids(bytes(buf[:n])), -1)
        if newest >= 0:
            due.append((release_at, newest))
        now, last = time.monotonic(), None
        while due and due[0][0] <= now:
            last = due.popleft()[1]
        if last is not None:
            verdict = nla(ATTR_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, last))
            sock.send(nfq_message(queue, NFQNL_MSG_VERDICT_BATCH, [verdict]))

if __name__ == "__main__":
    main()
