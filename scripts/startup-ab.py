#!/usr/bin/env python3
# startup-ab.py BIN_A BIN_B ROUNDS PORT [GOHELLO]: two stack binaries' start to first 200, interleaved A B A B
# (ROUNDS each), as scripts/bench.sh's startup_ms times it: `stack up` with polls and 2 workers (its stack_yaml),
# polled every 2 ms on /polls/; GOHELLO, a Go net/http hello binary taking its address as argument, is timed
# between them. Then PSSN (default ROUNDS/3, at least 3) fresh starts of each, PSS summed over the process
# tree 1.5 s after the first 200. The run_dir is kept between starts (migrated once). Prints each start and
# the medians. On a busy machine, `chrt -f 10 python3 scripts/startup-ab.py ...` stands for a quiet one.
import http.client, os, random, shutil, signal, statistics, subprocess, sys, tempfile, time
A, B, R, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
GO = sys.argv[5] if len(sys.argv) > 5 else ""  # Go's bare net/http hello, timed alternately too
W = tempfile.mkdtemp(prefix="abstart")
os.makedirs(W + "/static", exist_ok=True)
def yaml(name):
    p = f"{W}/{name}.yaml"
    open(p, "w").write(f"""run_dir: {W}/run/{name}
edge:
  listen: ["127.0.0.1:{port}"]
  access_log: "off"
  locations:
    - path: /files/
      root: {W}/static
    - path: /
      upstream: app
  upstreams:
    app:
      servers: ["unix:{W}/run/{name}/app.sock"]
appserver:
  listen: unix:{W}/run/{name}/app.sock
  app: polls
  processes: 2
admin: {{listen: ""}}
apps:
  polls:
    debug: false
    secret_key: bench-{random.randint(0, 1<<60)}
    allowed_hosts: ["127.0.0.1"]
""")
    return p
ya, yb = yaml("a"), yaml("b")
def tree(pid):
    out = [pid]
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1])
            except Exception:
                continue
            kids.setdefault(ppid, []).append(int(d))
    i = 0
    while i < len(out):
        out += kids.get(out[i], []); i += 1
    return out
def pss(pid):
    t = 0
    for p in tree(pid):
        try:
            for l in open(f"/proc/{p}/smaps_rollup"):
                if l.startswith("Pss:"):
                    t += int(l.split()[1])
        except OSError:
            pass
    return t
def start(binary, y, measure_pss=False):
    t0 = time.monotonic()
    p = subprocess.Popen([binary, "up", "-c", y, "--log-level", "warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    codes = {}
    while time.monotonic() - t0 < 30:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/polls/")
            st = c.getresponse().status
            codes[st] = codes.get(st, 0) + 1
            if st == 200:
                break
        except OSError:
            pass
        time.sleep(0.002)
    ms = (time.monotonic() - t0) * 1000
    k = 0
    if measure_pss:
        time.sleep(1.5)
        k = pss(p.pid)
    os.killpg(p.pid, signal.SIGTERM)
    p.wait()
    time.sleep(0.3)
    return ms, k, codes
res = {"A": [], "B": []}; pssr = {"A": [], "B": []}
for i in range(R):  # start timing rounds
    for n, b, y in (("A", A, ya), ("B", B, yb)):
        ms, _, codes = start(b, y)
        bad = {k: v for k, v in codes.items() if k != 200}
        res[n].append(ms)
        print(f"{n} {ms:.1f} ms" + (f" non-200 {bad}" if bad else ""), flush=True)
    if GO:
        t0 = time.monotonic()
        p = subprocess.Popen([GO, f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2); c.request("GET", "/")
                if c.getresponse().status == 200: break
            except OSError: pass
            time.sleep(0.002)
        res.setdefault("go", []).append((time.monotonic() - t0) * 1000)
        os.killpg(p.pid, signal.SIGTERM); p.wait(); time.sleep(0.3)
for i in range(int(os.environ.get("PSSN", max(3, R // 3)))):
    for n, b, y in (("A", A, ya), ("B", B, yb)):
        _, k, _ = start(b, y, True)
        pssr[n].append(k)
        print(f"{n} PSS fresh {k} kB", flush=True)
if GO:
    print(f"go hello: start median {statistics.median(res['go']):.1f} ms (n={len(res['go'])})")
for n in "AB":
    line = f"{n}: start median {statistics.median(res[n]):.1f} ms (n={len(res[n])})"
    if pssr[n]:
        line += f", PSS fresh median {statistics.median(pssr[n])/1024:.1f} MB (n={len(pssr[n])})"
    print(line)
shutil.rmtree(W, ignore_errors=True)
