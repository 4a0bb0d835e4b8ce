#!/usr/bin/python3
"""TAP: e2eload tells lost, duplicated, reordered and corrupted bytes apart,
and a closed connection from a stuck one, against a faulty echo server on
127.0.0.1 and ::1 (an ephemeral port): for one client each fault is done
once, on record boundaries, and the figure it should move must move alone.
Usage: e2eload-check.py [E2ELOAD]  (default $top_builddir/tests/e2e/e2eload)
"""
import os
import selectors
import socket
import subprocess
import sys
import threading
import time

REC = 16
load = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.environ.get("top_builddir", "."), "tests/e2e/e2eload")


class Faulty:
    """An echo server on both loopbacks that misbehaves once, on the first
    connection that has echoed 64 records: fault is drop, dup, swap, flip,
    fin or hold (stop answering)."""

    def __init__(self, fault):
        self.fault, self.done, self.stop = fault, False, False
        self.armed = False      # no fault before the window starts
        self.s4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s4.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s4.bind(("127.0.0.1", 0))
        self.port = self.s4.getsockname()[1]
        self.s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        self.s6.bind(("::1", self.port))
        self.u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.u4.bind(("127.0.0.1", self.port))
        self.u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.u6.bind(("::1", self.port))
        self.sel = selectors.DefaultSelector()
        for s in (self.s4, self.s6):
            s.listen(64)
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, "listen")
        for u in (self.u4, self.u6):
            u.setblocking(False)
            self.sel.register(u, selectors.EVENT_READ, "udp")
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        state = {}
        while not self.stop:
            for key, _ in self.sel.select(0.1):
                s = key.fileobj
                if key.data == "listen":
                    c, _ = s.accept()
                    c.setblocking(True)
                    self.sel.register(c, selectors.EVENT_READ, "conn")
                    state[c] = [b"", 0, False]
                elif key.data == "udp":
                    try:
                        d, a = s.recvfrom(64)
                        s.sendto(d, a)
                    except OSError:
                        pass
                else:
                    self.conn(s, state)

    def conn(self, c, state):
        st = state[c]
        try:
            d = c.recv(4096)
        except OSError:
            d = b""
        if not d:
            self.sel.unregister(c)
            c.close()
            return
        if st[2]:       # held: read, never answer
            return
        buf = st[0] + d
        n = len(buf) // REC * REC
        recs = [buf[i:i + REC] for i in range(0, n, REC)]
        st[0] = buf[n:]
        out = []
        for j, r in enumerate(recs):
            st[1] += 1
            # A record lost, corrupted or held back must have one after it
            # in its batch, or the client would only wait (that is "hold").
            last = j == len(recs) - 1
            if self.armed and not self.done and st[1] >= 64 and not (
                    last and self.fault in ("drop", "flip", "swap")):
                self.done = True
                f = self.fault
                if f == "drop":
                    continue
                if f == "dup":
                    out += [r, r]
                    continue
                if f == "flip":
                    out.append(bytes([r[0] ^ 1]) + r[1:])
                    continue
                if f == "fin":
                    c.sendall(b"".join(out))
                    self.sel.unregister(c)
                    c.close()
                    return
                if f == "hold":
                    st[2] = True
                    c.sendall(b"".join(out))
                    return
                if f == "swap":     # hold this one back until the next
                    st.append(r)
                    continue
            out.append(r)
            if len(st) > 3:         # the record held back, after this one
                out.append(st.pop())
        c.sendall(b"".join(out))

    def close(self):
        self.stop = True
        self.t.join()


def run(fault, clients=8):
    srv = Faulty(fault)
    p = subprocess.Popen([load, "-n", str(clients), "-r", "50", "-p", str(srv.port), "-T", "30"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    p.stdin.write("connect\n")
    p.stdin.flush()
    got = p.stdout.readline().strip()
    p.stdin.write("mark x\n")
    p.stdin.flush()
    marked = p.stdout.readline().strip()
    srv.armed = True
    end = time.monotonic() + 10
    while not srv.done and time.monotonic() < end:
        time.sleep(0.05)
    time.sleep(1.5)     # not a condition: the window must outlast ECHOING_MS
    p.stdin.write("end\n")
    p.stdin.flush()
    rep = p.stdout.readline().strip()
    p.stdin.write("quit\n")
    p.stdin.flush()
    p.wait(10)
    srv.close()
    fig = dict(kv.split("=") for kv in rep.split()[2:] if "=" in kv)
    return got, marked, {k: int(v) for k, v in fig.items()}, rep


# fault: the figures that must be non-zero; every other one must be 0
want = {
    "none": {},
    "drop": {"bytes_lost": 16},
    "dup": {"bytes_dup": 16},
    "swap": {"bytes_reordered": 16},
    "flip": {"bytes_corrupt": 16, "bytes_lost": 16},
    "fin": {"fin": 1, "lost": 1},
    "hold": {"stuck": 1, "lost": 1},
}
faults = ["bytes_lost", "bytes_dup", "bytes_reordered", "bytes_corrupt",
          "lost", "fin", "rst", "err", "stuck", "udp_unanswered", "udp_late"]
print("1..%d" % len(want))
failed = 0
for i, (fault, w) in enumerate(want.items(), 1):
    got, marked, fig, rep = run(fault)
    bad = [k for k in faults if fig.get(k, -1) != w.get(k, 0)]
    if got != "connected 8":
        bad.append("connect: " + got)
    if marked != "marked x":
        bad.append("mark: " + marked)
    print("%s %d - %s: %s" % ("not ok" if bad else "ok", i, fault,
                               ", ".join("%s=%d" % (k, fig.get(k, -1)) for k in w) or "all 0"))
    if bad:
        failed += 1
        print("# wrong: %s\n# %s" % (" ".join(bad), rep))
sys.exit(1 if failed else 0)
