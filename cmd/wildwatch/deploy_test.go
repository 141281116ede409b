package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// deployDir is the repository's deploy/ directory.
const deployDir = "../../deploy"

// The configuration files under deploy/ are checked against the binary
// they run: every command and flag goes through the command's own flag
// parsing, every WILDWATCH_ variable is one the binary reads, every file a
// kustomization or a unit names exists. Nothing is started.

// knownEnv returns the WILDWATCH_ variables the binary reads.
func knownEnv(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`"(WILDWATCH_[A-Z0-9_]+)"`)
	env := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			env[string(m[1])] = true
		}
	}
	if !env["WILDWATCH_REDIS"] || !env["WILDWATCH_S3_SECRET_KEY"] {
		t.Fatalf("found only %v in the sources", env)
	}
	return env
}

// flagSpec lists a command's flags: name → whether it is a boolean flag.
type flagSpec map[string]bool

// commandFlags asks the command for its flags, as `wildwatch CMD -h`
// prints them.
func commandFlags(t *testing.T, path []string) (flagSpec, error) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append(slices.Clone(path), "-h"), streams{in: strings.NewReader(""), out: &out, err: &errb}, func(string) string { return "" })
	if code != 0 {
		return nil, errors.New(strings.TrimSpace(errb.String()))
	}
	spec := flagSpec{}
	sc := bufio.NewScanner(&errb)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "  -") {
			continue
		}
		fields := strings.Fields(strings.TrimPrefix(line, "  -"))
		spec[fields[0]] = len(fields) == 1
	}
	if len(spec) == 0 {
		return nil, errors.New("no flags listed")
	}
	return spec, nil
}

// checkCommand checks a wildwatch command line (without the program name)
// from a configuration file: the command exists, every flag is one of its
// own, every value parses, and nothing else is on the line.
func checkCommand(t *testing.T, where string, args []string) {
	t.Helper()
	if len(args) == 0 {
		t.Errorf("%s: no command", where)
		return
	}
	// The command is its leading words: "worker", "token create".
	n := 0
	for n < len(args) && !strings.HasPrefix(args[n], "-") {
		n++
	}
	path := args[:n]
	spec, err := commandFlags(t, path)
	if err != nil {
		t.Errorf("%s: wildwatch %s: %v", where, strings.Join(path, " "), err)
		return
	}
	for i := n; i < len(args); i++ {
		a := args[i]
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			t.Errorf("%s: stray argument %q", where, a)
			continue
		}
		isBool, ok := spec[name]
		if !ok {
			t.Errorf("%s: wildwatch %s has no flag %s", where, strings.Join(path, " "), a)
			continue
		}
		if !isBool && !hasValue {
			i++ // the value
		}
	}
	// The command's own parsing takes every value (durations, numbers,
	// booleans) and stops at -h before anything starts.
	var out, errb bytes.Buffer
	if code := run(context.Background(), append(slices.Clone(args), "-h"), streams{in: strings.NewReader(""), out: &out, err: &errb}, func(string) string { return "" }); code != 0 {
		t.Errorf("%s: wildwatch %s: exit %d: %s", where, strings.Join(args, " "), code, firstLine(errb.String()))
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

func checkEnv(t *testing.T, where string, known map[string]bool, names ...string) {
	t.Helper()
	for _, n := range names {
		if strings.HasPrefix(n, "WILDWATCH_") && !known[n] {
			t.Errorf("%s: wildwatch reads no %s", where, n)
		}
	}
}

func readFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// yamlDocs decodes every document of a YAML file into maps.
func yamlDocs(t *testing.T, rel string) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readFile(t, rel)))
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
}

// dig walks nested maps and lists by key or index.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// dockerStages returns the stage names of deploy/Dockerfile.
func dockerStages(t *testing.T) []string {
	re := regexp.MustCompile(`(?im)^FROM\s+\S+\s+AS\s+(\S+)\s*$`)
	var stages []string
	for _, m := range re.FindAllSubmatch(readFile(t, "Dockerfile"), -1) {
		stages = append(stages, string(m[1]))
	}
	return stages
}

func TestDeployDockerfile(t *testing.T) {
	t.Parallel()
	stages := dockerStages(t)
	for _, want := range []string{"build", "static", "render"} {
		if !slices.Contains(stages, want) {
			t.Errorf("deploy/Dockerfile has no stage %s (has %v)", want, stages)
		}
	}
	src := string(readFile(t, "Dockerfile"))
	for _, want := range []string{"./cmd/wildwatch", `ENTRYPOINT ["/usr/local/bin/wildwatch"]`, "chromium"} {
		if !strings.Contains(src, want) {
			t.Errorf("deploy/Dockerfile does not mention %s", want)
		}
	}
	if _, err := os.Stat("../../cmd/wildwatch/main.go"); err != nil {
		t.Errorf("the Dockerfile builds ./cmd/wildwatch: %v", err)
	}
}

func TestDeployCompose(t *testing.T) {
	t.Parallel()
	known := knownEnv(t)
	docs := yamlDocs(t, "compose.yaml")
	if len(docs) != 1 {
		t.Fatalf("compose.yaml has %d documents", len(docs))
	}
	services, _ := docs[0]["services"].(map[string]any)
	volumes, _ := docs[0]["volumes"].(map[string]any)
	for _, want := range []string{"redis", "postgres", "s3", "api", "scheduler", "worker-static", "worker-render"} {
		if services[want] == nil {
			t.Errorf("compose.yaml has no service %s", want)
		}
	}
	stages := dockerStages(t)
	roles := map[string]bool{}
	for name, sv := range services {
		s, _ := sv.(map[string]any)
		where := "compose.yaml: " + name
		image, _ := s["image"].(string)
		if b, ok := s["build"].(map[string]any); ok {
			ctx, _ := b["context"].(string)
			file, _ := b["dockerfile"].(string)
			target, _ := b["target"].(string)
			if _, err := os.Stat(filepath.Join(deployDir, ctx, file)); err != nil {
				t.Errorf("%s: build file: %v", where, err)
			}
			if !slices.Contains(stages, target) {
				t.Errorf("%s: the Dockerfile has no stage %q", where, target)
			}
			if image != "wildwatch:"+target {
				t.Errorf("%s: image %q is built from stage %s", where, image, target)
			}
		}
		for dep := range mapOf(s["depends_on"]) {
			if services[dep] == nil {
				t.Errorf("%s: depends on unknown service %s", where, dep)
			}
		}
		for _, v := range strs(s["volumes"]) {
			vol, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(vol, ".") && !strings.HasPrefix(vol, "/") {
				if _, ok := volumes[vol]; !ok {
					t.Errorf("%s: unknown volume %s", where, vol)
				}
			}
		}
		if !strings.HasPrefix(image, "wildwatch:") {
			continue
		}
		cmd := strs(s["command"])
		checkCommand(t, where, cmd)
		if len(cmd) > 0 {
			roles[cmd[0]] = true
		}
		env := mapOf(s["environment"])
		var names []string
		for n := range env {
			names = append(names, n)
		}
		checkEnv(t, where, known, names...)
		if env["WILDWATCH_REDIS"] == nil || env["WILDWATCH_DATABASE"] == nil || env["WILDWATCH_KEY"] == nil {
			t.Errorf("%s: the shared Redis, catalog and signing key are not configured", where)
		}
	}
	for _, role := range []string{"api", "scheduler", "worker"} {
		if !roles[role] {
			t.Errorf("compose.yaml runs no %s", role)
		}
	}
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// k8sObjects returns the objects of a kustomization's resources by kind
// and name, checking that every file it names exists.
func k8sObjects(t *testing.T, dir string) map[string]map[string]any {
	t.Helper()
	k := yamlDocs(t, filepath.Join(dir, "kustomization.yaml"))
	if len(k) != 1 || k[0]["kind"] != "Kustomization" {
		t.Fatalf("%s/kustomization.yaml is not one Kustomization", dir)
	}
	objs := map[string]map[string]any{}
	for _, r := range strs(k[0]["resources"]) {
		p := filepath.Join(dir, r)
		fi, err := os.Stat(filepath.Join(deployDir, p))
		if err != nil {
			t.Errorf("%s/kustomization.yaml: resource %s: %v", dir, r, err)
			continue
		}
		if fi.IsDir() {
			maps := k8sObjects(t, p)
			for key, o := range maps {
				objs[key] = o
			}
			continue
		}
		for _, d := range yamlDocs(t, p) {
			kind, _ := d["kind"].(string)
			name, _ := dig(d, "metadata", "name").(string)
			if kind == "" || name == "" || d["apiVersion"] == nil {
				t.Errorf("%s: an object without apiVersion, kind or name", p)
				continue
			}
			objs[kind+"/"+name] = d
		}
	}
	for _, p := range list(k[0]["patches"]) {
		if path, _ := dig(p, "path").(string); path != "" {
			if _, err := os.Stat(filepath.Join(deployDir, dir, path)); err != nil {
				t.Errorf("%s/kustomization.yaml: patch %s: %v", dir, path, err)
			}
		}
	}
	return objs
}

func TestDeployKubernetes(t *testing.T) {
	t.Parallel()
	known := knownEnv(t)
	base := k8sObjects(t, "kubernetes/base")
	kust := yamlDocs(t, "kubernetes/base/kustomization.yaml")[0]
	images := map[string]bool{}
	for _, im := range list(kust["images"]) {
		name, _ := dig(im, "name").(string)
		images[name] = true
	}
	config := base["ConfigMap/wildwatch-config"]
	if config == nil {
		t.Fatal("the base has no ConfigMap wildwatch-config")
	}
	configEnv := mapOf(config["data"])
	for n := range configEnv {
		checkEnv(t, "ConfigMap wildwatch-config", known, n)
	}
	secrets := map[string]map[string]any{}
	for _, d := range yamlDocs(t, "kubernetes/secret.example.yaml") {
		name, _ := dig(d, "metadata", "name").(string)
		secrets[name] = mapOf(d["stringData"])
		for n := range secrets[name] {
			checkEnv(t, "secret.example.yaml "+name, known, n)
		}
	}
	// The metrics port the ConfigMap gives --metrics-addr.
	_, metricsPort, err := net.SplitHostPort(str(configEnv["WILDWATCH_METRICS_ADDR"]))
	if err != nil {
		t.Fatalf("WILDWATCH_METRICS_ADDR: %v", err)
	}

	roles := map[string]bool{}
	for key, d := range base {
		if d["kind"] != "Deployment" {
			continue
		}
		where := "kubernetes/base " + key
		selector := mapOf(dig(d, "spec", "selector", "matchLabels"))
		labels := mapOf(dig(d, "spec", "template", "metadata", "labels"))
		for k, v := range selector {
			if labels[k] != v {
				t.Errorf("%s: the selector %s=%v does not match the pod's labels", where, k, v)
			}
		}
		pod := mapOf(dig(d, "spec", "template", "spec"))
		podVolumes := map[string]map[string]any{}
		for _, v := range list(pod["volumes"]) {
			podVolumes[str(dig(v, "name"))] = mapOf(v)
			if s, _ := dig(v, "secret", "secretName").(string); s != "" && secrets[s] == nil {
				t.Errorf("%s: volume from Secret %s, which secret.example.yaml does not show", where, s)
			}
		}
		for _, c := range list(pod["containers"]) {
			cm := mapOf(c)
			image, _ := cm["image"].(string)
			if !images[image] {
				t.Errorf("%s: image %s is not in the kustomization's images", where, image)
			}
			args := strs(cm["args"])
			checkCommand(t, where, args)
			if len(args) > 0 {
				roles[args[0]] = true
			}
			ports := map[string]string{}
			for _, p := range list(cm["ports"]) {
				ports[str(dig(p, "name"))] = itoa(dig(p, "containerPort"))
			}
			if ports["metrics"] != metricsPort {
				t.Errorf("%s: metrics port %s, but --metrics-addr is %s", where, ports["metrics"], configEnv["WILDWATCH_METRICS_ADDR"])
			}
			for _, probe := range []string{"livenessProbe", "readinessProbe"} {
				path, _ := dig(cm, probe, "httpGet", "path").(string)
				port, _ := dig(cm, probe, "httpGet", "port").(string)
				want := map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"}[probe]
				if path != want || ports[port] == "" {
					t.Errorf("%s: %s on %s port %q; want %s on a named port of the container", where, probe, path, port, want)
				}
			}
			for _, e := range list(cm["envFrom"]) {
				if n, _ := dig(e, "configMapRef", "name").(string); n != "" && base["ConfigMap/"+n] == nil {
					t.Errorf("%s: envFrom ConfigMap %s is not in the base", where, n)
				}
				if n, _ := dig(e, "secretRef", "name").(string); n != "" && secrets[n] == nil {
					t.Errorf("%s: envFrom Secret %s, which secret.example.yaml does not show", where, n)
				}
			}
			for _, m := range list(cm["volumeMounts"]) {
				if podVolumes[str(dig(m, "name"))] == nil {
					t.Errorf("%s: mounts unknown volume %v", where, dig(m, "name"))
				}
			}
			if dig(cm, "resources", "requests") == nil || dig(cm, "resources", "limits") == nil {
				t.Errorf("%s: no resource requests and limits", where)
			}
		}
	}
	for _, role := range []string{"api", "scheduler", "worker"} {
		if !roles[role] {
			t.Errorf("the base runs no %s", role)
		}
	}
	if svc := base["Service/wildwatch-api"]; svc == nil {
		t.Error("the base has no Service for the API")
	}

	// The sidecar overlay patches a Deployment of the base, and points the
	// worker at the sidecar through a variable wildwatch reads.
	overlay := k8sObjects(t, "kubernetes/chrome-sidecar")
	if len(overlay) != len(base) {
		t.Errorf("the overlay has %d objects, the base %d", len(overlay), len(base))
	}
	ok := yamlDocs(t, "kubernetes/chrome-sidecar/kustomization.yaml")[0]
	for _, p := range list(ok["patches"]) {
		name, _ := dig(p, "target", "name").(string)
		if base["Deployment/"+name] == nil {
			t.Errorf("the overlay patches Deployment %s, which the base does not have", name)
		}
		for _, d := range yamlDocs(t, filepath.Join("kubernetes/chrome-sidecar", str(dig(p, "path")))) {
			for _, c := range list(dig(d, "spec", "template", "spec", "containers")) {
				if image, _ := dig(c, "image").(string); strings.HasPrefix(image, "wildwatch") && !images[image] {
					t.Errorf("the overlay's image %s is not in the kustomization's images", image)
				}
				for _, e := range list(dig(c, "env")) {
					checkEnv(t, "chrome-sidecar patch", known, str(dig(e, "name")))
				}
			}
		}
	}
}

func itoa(v any) string {
	switch n := v.(type) {
	case int:
		return strconv.Itoa(n)
	case string:
		return n
	}
	return ""
}

// unitLines returns the key=value lines of a systemd unit by section,
// continuation lines joined.
func unitLines(t *testing.T, rel string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	section := ""
	var cont string
	for _, line := range strings.Split(string(readFile(t, rel)), "\n") {
		line = strings.TrimSpace(line)
		if cont != "" {
			line, cont = cont+" "+line, ""
		}
		if strings.HasSuffix(line, "\\") {
			cont = strings.TrimSuffix(line, "\\")
			continue
		}
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line
			out[section] = nil
		default:
			out[section] = append(out[section], line)
		}
	}
	return out
}

func TestDeploySystemd(t *testing.T) {
	t.Parallel()
	known := knownEnv(t)
	units, err := filepath.Glob(filepath.Join(deployDir, "systemd", "*.service"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, u := range units {
		names[filepath.Base(u)] = true
	}
	for _, want := range []string{"wildwatch-api.service", "wildwatch-scheduler.service", "wildwatch-worker@.service"} {
		if !names[want] {
			t.Errorf("deploy/systemd has no %s", want)
		}
	}
	metricsAddrs := map[string]string{}
	for _, u := range units {
		rel := filepath.Join("systemd", filepath.Base(u))
		sections := unitLines(t, rel)
		for _, s := range []string{"[Unit]", "[Service]", "[Install]"} {
			if _, ok := sections[s]; !ok {
				t.Errorf("%s: no %s section", rel, s)
			}
		}
		var exec []string
		for _, l := range sections["[Service]"] {
			key, value, _ := strings.Cut(l, "=")
			switch key {
			case "ExecStart":
				exec = append(exec, value)
			case "EnvironmentFile":
				p := strings.TrimPrefix(value, "-")
				example := filepath.Join("systemd", filepath.Base(p)+".example")
				if !strings.HasPrefix(value, "-") {
					if _, err := os.Stat(filepath.Join(deployDir, example)); err != nil {
						t.Errorf("%s: %s has no example beside the unit: %v", rel, p, err)
					}
				}
			case "Environment":
				name, _, _ := strings.Cut(value, "=")
				checkEnv(t, rel, known, name)
			}
		}
		if len(exec) != 1 {
			t.Errorf("%s: %d ExecStart lines, want 1", rel, len(exec))
			continue
		}
		// A templated unit's instance names the queues.
		line := strings.NewReplacer("%I", "sweep,static", "%i", "sweep\\x2cstatic").Replace(exec[0])
		fields := strings.Fields(line)
		if fields[0] != "/usr/local/bin/wildwatch" {
			t.Errorf("%s: ExecStart runs %s", rel, fields[0])
		}
		checkCommand(t, rel, fields[1:])
		for i, f := range fields {
			if f == "--metrics-addr" && i+1 < len(fields) {
				metricsAddrs[rel] = fields[i+1]
			}
		}
	}
	// Example environment files: known variables only, and metrics
	// addresses that do not collide on one machine.
	examples, _ := filepath.Glob(filepath.Join(deployDir, "systemd", "*.env.example"))
	if len(examples) == 0 {
		t.Error("deploy/systemd has no example environment file")
	}
	for _, e := range examples {
		rel := filepath.Join("systemd", filepath.Base(e))
		for _, l := range strings.Split(string(readFile(t, rel)), "\n") {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			name, value, ok := strings.Cut(l, "=")
			if !ok {
				t.Errorf("%s: %q is not NAME=value", rel, l)
				continue
			}
			checkEnv(t, rel, known, name)
			if name == "WILDWATCH_METRICS_ADDR" {
				metricsAddrs[rel] = value
			}
		}
	}
	seen := map[string]string{}
	for file, addr := range metricsAddrs {
		if other, dup := seen[addr]; dup {
			t.Errorf("%s and %s both serve metrics on %s", file, other, addr)
		}
		seen[addr] = file
	}
}

// TestDeployReadme checks that deploy/README.md names every file under
// deploy/.
func TestDeployReadme(t *testing.T) {
	t.Parallel()
	readme := string(readFile(t, "README.md"))
	err := filepath.WalkDir(deployDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(deployDir, p)
		if rel == "README.md" {
			return nil
		}
		if !strings.Contains(readme, filepath.Base(rel)) {
			t.Errorf("deploy/README.md does not mention %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
