package crawler

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// chromeProcesses returns the ids of the processes of the Chrome started
// with user data directory dir: those whose command line names dir (Chrome
// passes it to every child, and children outlive a killed parent; the
// crash handler has its database there), and their descendants.
func chromeProcesses(dir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil || dir == "" {
		return nil
	}
	want := []byte("--user-data-dir=" + dir)
	crashDB := []byte("--database=" + dir + "/")
	children := make(map[int][]int)
	var queue []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == os.Getpid() {
			continue
		}
		if pp, ok := parentPID(p); ok {
			children[pp] = append(children[pp], p)
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
			if bytes.Equal(arg, want) || bytes.HasPrefix(arg, crashDB) {
				queue = append(queue, p)
				break
			}
		}
	}
	found := make(map[int]bool)
	for _, p := range queue {
		found[p] = true
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, ch := range children[p] {
			if !found[ch] {
				found[ch] = true
				queue = append(queue, ch)
			}
		}
	}
	pids := make([]int, 0, len(found))
	for p := range found {
		pids = append(pids, p)
	}
	return pids
}

// parentPID reads the parent of p from /proc/p/stat.
func parentPID(p int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
	if err != nil {
		return 0, false
	}
	// pid (comm) state ppid …; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(fields[1])
	return pp, err == nil
}

// killProcesses kills the processes of a Chrome until none is found a few
// times in a row: a child can fork while its parent dies.
func killProcesses(dir string) {
	deadline := time.Now().Add(3 * time.Second)
	for quiet := 0; quiet < 3 && time.Now().Before(deadline); {
		pids := chromeProcesses(dir)
		if len(pids) == 0 {
			quiet++
		} else {
			quiet = 0
		}
		for _, p := range pids {
			syscall.Kill(p, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// removeAllRetry removes dir, again for a few seconds while a dying child
// still writes into it.
func removeAllRetry(dir string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := os.RemoveAll(dir)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
