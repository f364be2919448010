"""Shared set-up for the benchmarks: a Sallyport gateway with one local agent, and the set-up
it replaces, an OpenSSH bastion (a jump sshd in front of a target sshd), all on loopback in a
temporary folder. Standard library only."""
import os
import pty
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("SALLYPORT_BUILD_DIR", os.path.join(ROOT, "build"))
PROMPT = re.compile(rb"[#$] $")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Processes:
    def __init__(self):
        self.children = []

    def start(self, argv, **kwargs):
        child = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self.children.append(child)
        return child

    def stop(self):
        for child in self.children:
            try:
                os.killpg(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)


class Sallyport:
    """A gateway on a free loopback port and one agent registered as node `bench`."""

    def __init__(self, work, processes):
        self.work = work
        self.bin = os.path.join(BUILD, "apps")
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.env = dict(os.environ, SALLYPORT_CONFIG_DIR=os.path.join(work, "cli"),
                        SALLYPORT_ADMIN_PASSWORD="bench-Pa55word-bench", SALLYPORT_PASSWORD="bench-Pa55word-bench")
        gateway_out = open(os.path.join(work, "gateway.out"), "w+")
        processes.start([self.program("sallyport-gateway"), "--data-dir", os.path.join(work, "gw"), "--listen",
                         f"127.0.0.1:{self.port}", "--log-file", os.path.join(work, "gateway.log")],
                        stdout=gateway_out, stderr=subprocess.STDOUT, env=self.env)
        wait_for(lambda: "CA fingerprint" in open(gateway_out.name).read(), 20, "the gateway")
        fingerprint = re.search(r"CA fingerprint: (\S+)", open(gateway_out.name).read()).group(1)
        self.cli("login", "--gateway", self.url, "--user", "admin", "--ca-fingerprint", fingerprint)
        activation = self.cli("activations", "create", "--name", "bench", "--limit", "1", "--expires", "1h")
        activation_id = re.search(r"Activation ID:\s*(\S+)", activation).group(1)
        code = re.search(r"Activation code:\s*(\S+)", activation).group(1)
        state = os.path.join(work, "agent")
        subprocess.run([self.program("sallyport-agent"), "register", "--gateway", self.url, "--ca-fingerprint",
                        fingerprint, "--activation-id", activation_id, "--activation-code", code, "--state-dir", state,
                        "--name", "bench"], check=True, capture_output=True)
        agent_args = [self.program("sallyport-agent"), "run", "--state-dir", state]
        if os.geteuid() == 0:
            agent_args.append("--create-run-as-user")
        else:  # an unprivileged agent can only start sessions as itself
            self.cli("preferences", "set", "default_run_as", os.environ.get("USER", "nobody"))
        self.agent = processes.start(agent_args, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(work, "agent.log"), "w"))
        wait_for(lambda: "Online" in self.cli("nodes", "ls"), 20, "the agent")
        self.gateway_pid = processes.children[0].pid

    def program(self, name):
        path = os.path.join(self.bin, name)
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} is missing: run scripts/build.sh release first")
        return path

    def cli(self, *args):
        result = subprocess.run([self.program("sallyport"), *args], env=self.env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"sallyport {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def command(self, remote):
        return [self.program("sallyport"), "start-session", "--target", "bench", "--", remote]

    def shell(self):
        return [self.program("sallyport"), "start-session", "--target", "bench"]


class SshBastion:
    """Two sshd on loopback, `jump` and `target`, reached as `ssh -J jump target`."""

    def __init__(self, work, processes):
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        self.dir = os.path.join(work, "ssh")
        os.makedirs(self.dir)
        key = os.path.join(self.dir, "id_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        shutil.copy(key + ".pub", os.path.join(self.dir, "authorized_keys"))
        user = os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", exist_ok=True)
        lines = []
        for name in ("jump", "target"):
            port = free_port()
            host_key = os.path.join(self.dir, f"host_{name}")
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host_key], check=True)
            config = os.path.join(self.dir, f"sshd_{name}")
            with open(config, "w") as f:
                f.write(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
                        f"AuthorizedKeysFile {self.dir}/authorized_keys\nStrictModes no\nUsePAM no\n"
                        "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                        "PermitRootLogin prohibit-password\nPidFile none\nLogLevel ERROR\n")
            processes.start([sshd, "-D", "-e", "-f", config], stderr=open(config + ".log", "w"))
            lines.append(f"Host {name}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {key}\n"
                         "  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n"
                         "  LogLevel ERROR\n  BatchMode yes\n")
        self.config = os.path.join(self.dir, "ssh_config")
        with open(self.config, "w") as f:
            f.write("".join(lines))
        wait_for(lambda: subprocess.run(self.command("true"), capture_output=True).returncode == 0, 20,
                 "the OpenSSH bastion")

    def command(self, remote):
        return ["ssh", "-F", self.config, "-J", "jump", "target", remote]

    def shell(self):
        return ["ssh", "-F", self.config, "-J", "jump", "-tt", "target"]


class Terminal:
    """A client program on a real pseudo-terminal, for prompt and echo timings."""

    def __init__(self, argv, env=None):
        self.started = time.monotonic()
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.environ["TERM"] = "xterm"
            os.execvpe(argv[0], argv, dict(env or os.environ, TERM="xterm"))
        self.output = b""

    def read_until(self, pattern, timeout=20):
        deadline = time.monotonic() + timeout
        while not pattern.search(self.output):
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"no {pattern.pattern!r} in {self.output[-200:]!r}")
            if select.select([self.fd], [], [], left)[0]:
                self.output += os.read(self.fd, 65536)
        return time.monotonic()

    def echo_round_trip(self, byte):
        os.write(self.fd, byte)
        start = time.monotonic()
        select.select([self.fd], [], [], 10)
        elapsed = time.monotonic() - start
        data = os.read(self.fd, 65536)
        if not data:
            raise RuntimeError("terminal closed")
        return elapsed

    def drain(self, seconds=0.05):
        while select.select([self.fd], [], [], seconds)[0]:
            if not os.read(self.fd, 65536):
                return

    def close(self):
        try:
            os.write(self.fd, b"\x04exit\r")
            time.sleep(0.2)
            os.kill(self.pid, signal.SIGTERM)
        except OSError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        os.close(self.fd)


def timed(argv, stdin=None, stdout=subprocess.DEVNULL, env=None):
    start = time.monotonic()
    result = subprocess.run(argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=env)
    elapsed = time.monotonic() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr.decode()[-400:]}")
    return elapsed


def median(values):
    return statistics.median(values)


def workspace():
    return tempfile.mkdtemp(prefix="sallyport-bench-")
