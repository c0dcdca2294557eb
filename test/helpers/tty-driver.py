"""Runs trl on a real terminal: a pty of 111x33 made here, trl on its slave.

argv: node trl socket scenario. Prints one JSON line with what it saw.
scenario "resize": trl exec -t runs a program that shows its size, follows a
  window change, and dies in the alternate screen with the cursor hidden.
scenario "kill": trl exec -t of a program in the alternate screen with the cursor hidden is killed with SIGKILL in raw mode.
scenario "shell": trl shell, a line typed into it.
"""
import fcntl, json, os, pty, select, signal, struct, subprocess, sys, termios, time

node, trl, sock, scenario = sys.argv[1:5]
ENV = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'), 'TRL_SOCKET_PATH': sock, 'TERM': 'xterm-256color'}
PROGRAM = r'''import os, signal, sys
sys.stdout.write("\x1b[?1049h\x1b[?25l"); sys.stdout.flush()
signal.signal(signal.SIGWINCH, lambda *a: os.write(1, b"winch %d %d\n" % tuple(os.get_terminal_size(0))))
print("ready %d %d term=%s" % (*os.get_terminal_size(0), os.environ.get("TERM")), flush=True)
line = sys.stdin.readline()
print("got " + line.strip(), flush=True)
os._exit(3)'''

def stty_g():
    return subprocess.run(['stty', '-g'], stdin=0, capture_output=True, text=True).stdout.strip()

pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 33, 111, 0, 0))
    before = stty_g()
    if scenario == 'resize':
        rc = subprocess.call([node, trl, 'exec', '-t', '--', 'python3', '-c', PROGRAM], env=ENV, cwd='/tmp')
        killed = None
    elif scenario == 'shell':
        rc = subprocess.call([node, trl, 'shell'], env=ENV, cwd='/tmp')
        killed = None
    else:
        # The parent tells (SIGUSR1) once the program's alternate screen has reached the terminal:
        # killed before that, trl has nothing to switch back.
        shown = []
        signal.signal(signal.SIGUSR1, lambda *a: shown.append(True))
        p = subprocess.Popen([node, trl, 'exec', '-t', '--', 'sh', '-c', r'printf "\033[?1049h\033[?25l"; sleep 100'], env=ENV, cwd='/tmp')
        deadline = time.time() + 10
        while (stty_g() == before or not shown) and time.time() < deadline:
            time.sleep(0.05)
        raw = stty_g() != before
        p.send_signal(signal.SIGKILL)
        rc = p.wait()
        killed = raw
        deadline = time.time() + 5
        while stty_g() != before and time.time() < deadline:
            time.sleep(0.05)
    after = stty_g()
    sys.stdout.write('\nRESULT ' + json.dumps({'rc': rc, 'restored': before == after, 'raw_while_running': killed}) + '\n')
    sys.stdout.flush()
    os._exit(0)

out = b''
sent_resize = sent_line = told_shown = False
deadline = time.time() + 30
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if not r:
        continue
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if scenario == 'shell' and not sent_line and chunk:
        sent_line = True
        os.write(fd, b'echo hi-$((1+1)); exit 4\r')
    if scenario == 'kill' and not told_shown and b'\x1b[?1049h' in out:
        told_shown = True
        os.kill(pid, signal.SIGUSR1)
    if scenario == 'resize':
        if not sent_resize and b'ready 111 33' in out:
            sent_resize = True
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 40, 120, 0, 0))
        if sent_resize and not sent_line and b'winch 120 40' in out:
            sent_line = True
            os.write(fd, b'hello\r')
os.waitpid(pid, 0)
text = out.decode('utf-8', 'replace')
result = json.loads(text.split('RESULT ', 1)[1].split('\n', 1)[0]) if 'RESULT ' in text else {}
result['output'] = text
print(json.dumps(result))
