package release

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The image's whole file tree: no shell, no libraries, nothing else.
var imageFiles = []string{
	"data/",
	"etc/",
	"etc/group",
	"etc/passwd",
	"etc/ssl/",
	"etc/ssl/certs/",
	"etc/ssl/certs/ca-certificates.crt",
	"etc/wogate/",
	"etc/wogate/config.yaml",
	"gateway",
	"plugins/",
	"plugins/csv-export",
	"plugins/erp-rest",
	"tmp/",
	"usr/",
	"usr/share/",
	"usr/share/doc/",
	"usr/share/doc/wogate/",
	"usr/share/doc/wogate/LICENSE",
	"usr/share/doc/wogate/NOTICE",
	"usr/share/doc/wogate/THIRD_PARTY_LICENSES",
}

// buildah runs buildah on the test's own vfs storage (removed with the
// test's temp dir), never the machine's.
type buildah struct {
	t          *testing.T
	bin, store string
}

func (b buildah) run(args ...string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // also in Cleanup, after t.Context ends
	defer cancel()
	all := append([]string{"--storage-driver", "vfs", "--root", filepath.Join(b.store, "root"), "--runroot", filepath.Join(b.store, "run")}, args...)
	out, err := exec.CommandContext(ctx, b.bin, all...).CombinedOutput()
	if err != nil {
		b.t.Fatalf("buildah %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestImage builds the Dockerfile with buildah (no daemon, no registry),
// mounts the image and runs its own binaries under chroot as the image's
// user: version, validate of the baked config, and a real start answered
// by the HEALTHCHECK command.
func TestImage(t *testing.T) {
	bin := needTool(t, "buildah")
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("the image test needs root (buildah's vfs storage, chroot)")
		}
		t.Skip("needs root (buildah's vfs storage, chroot)")
	}
	d := distBuild(t)
	tmp := t.TempDir()
	b := buildah{t: t, bin: bin, store: filepath.Join(tmp, "storage")}

	// The build context make image prepares: the repository's Dockerfile
	// and contrib/container, the release archive, a CA bundle.
	ctxDir := filepath.Join(tmp, "context")
	for _, f := range []string{"Dockerfile", ".dockerignore", "contrib/container/passwd", "contrib/container/group", "contrib/container/config.yaml"} {
		copyFile(t, filepath.Join(repo, f), filepath.Join(ctxDir, f))
	}
	copyFile(t, filepath.Join(d.dir, d.archive), filepath.Join(ctxDir, "dist", d.archive))
	copyFile(t, "/etc/ssl/certs/ca-certificates.crt", filepath.Join(ctxDir, "dist", "ca-certificates.crt"))

	b.run("bud", "--format", "docker", "--build-arg", "VERSION="+d.version, "-t", "wogate:dev", ctxDir)
	var img struct {
		Docker struct {
			Config struct {
				User         string
				Healthcheck  *struct{ Test []string }
				ExposedPorts map[string]struct{}
				Volumes      map[string]struct{}
				Entrypoint   []string
				Env          []string
			} `json:"config"`
		}
	}
	if err := json.Unmarshal([]byte(b.run("inspect", "--type", "image", "wogate:dev")), &img); err != nil {
		t.Fatal(err)
	}
	cfg := img.Docker.Config
	uid, gid, ok := userSpec(cfg.User)
	if !ok || uid == 0 || gid == 0 {
		t.Fatalf("image user %q, want numeric non-root uid:gid", cfg.User)
	}
	if cfg.Healthcheck == nil || strings.Join(cfg.Healthcheck.Test, " ") != "CMD /gateway health --url http://127.0.0.1:8080/healthz" {
		t.Errorf("HEALTHCHECK %+v, want CMD /gateway health --url http://127.0.0.1:8080/healthz", cfg.Healthcheck)
	}
	for _, p := range []string{"8080/tcp", "8081/tcp"} {
		if _, ok := cfg.ExposedPorts[p]; !ok {
			t.Errorf("port %s not exposed (%v)", p, cfg.ExposedPorts)
		}
	}
	if _, ok := cfg.Volumes["/data"]; !ok {
		t.Errorf("no /data volume (%v)", cfg.Volumes)
	}
	if strings.Join(cfg.Entrypoint, " ") != "/gateway" {
		t.Errorf("entrypoint %v, want /gateway", cfg.Entrypoint)
	}

	ctr := strings.TrimSpace(b.run("from", "wogate:dev"))
	root := strings.TrimSpace(b.run("mount", ctr))
	t.Cleanup(func() {
		b.run("umount", ctr)
		b.run("rm", ctr)
	})

	// The file tree, exactly; no /bin/sh among it.
	var files []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if e.IsDir() {
			rel += "/"
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if strings.Join(files, "\n") != strings.Join(imageFiles, "\n") {
		t.Errorf("image files:\n%s\nwant:\n%s", strings.Join(files, "\n"), strings.Join(imageFiles, "\n"))
	}
	if _, err := os.Lstat(filepath.Join(root, "bin", "sh")); err == nil {
		t.Error("the image has /bin/sh")
	}
	for _, dir := range []string{"data", "tmp"} {
		st, err := os.Stat(filepath.Join(root, dir))
		if err != nil {
			t.Fatal(err)
		}
		if s := st.Sys().(*syscall.Stat_t); int(s.Uid) != uid || int(s.Gid) != gid {
			t.Errorf("/%s belongs to %d:%d, want the image user %d:%d", dir, s.Uid, s.Gid, uid, gid)
		}
	}
	// The binaries are the release archive's, byte for byte.
	for img, arc := range map[string]string{"gateway": "bin/gateway", "plugins/csv-export": "bin/csv-export", "plugins/erp-rest": "bin/erp-rest"} {
		a, _ := os.ReadFile(filepath.Join(root, img))
		w, _ := os.ReadFile(filepath.Join(d.tree, d.top, arc))
		if len(a) == 0 || !bytes.Equal(a, w) {
			t.Errorf("/%s differs from the archive's %s", img, arc)
		}
	}

	// The image's own binary, as the image's user, with the image's
	// environment only.
	user := fmt.Sprintf("--userspec=%d:%d", uid, gid)
	chroot := func(env []string, args ...string) (int, string) {
		t.Helper()
		return run(t, append(append([]string{}, cfg.Env...), env...), "chroot", append([]string{user, root}, args...)...)
	}
	if code, out := chroot(nil, "/gateway", "version"); code != 0 || !strings.Contains(out, d.version) {
		t.Errorf("gateway version in the image: exit %d: %s", code, out)
	}
	// The baked config insists on an admin token (its admin listener is
	// reachable from outside the container) and validates with one;
	// validate starts the image's plugin.
	if code, out := chroot(nil, "/gateway", "validate", "--config", "/etc/wogate/config.yaml"); code != 1 || !strings.Contains(out, "WOGATE_ADMIN_TOKEN is not set") {
		t.Errorf("validate without a token: exit %d, want 1 naming WOGATE_ADMIN_TOKEN:\n%s", code, out)
	}
	token := []string{"WOGATE_ADMIN_TOKEN=" + strings.Repeat("0123456789abcdef", 2)}
	if code, out := chroot(token, "/gateway", "validate", "--config", "/etc/wogate/config.yaml"); code != 0 || !strings.Contains(out, "1 plugin") {
		t.Errorf("validate of the baked config: exit %d\n%s", code, out)
	}

	// A real start: the host's network (chroot), so the ports move to free
	// ones through the environment overrides.
	pub, adm, sb := freePort(t), freePort(t), freePort(t)
	env := append(append(append([]string{}, cfg.Env...), token...),
		fmt.Sprintf("WOGATE_LISTEN=127.0.0.1:%d", pub), fmt.Sprintf("WOGATE_ADMIN__LISTEN=127.0.0.1:%d", adm),
		fmt.Sprintf("WOGATE_SANDBOX__LISTEN=127.0.0.1:%d", sb))
	var log bytes.Buffer
	gw := exec.CommandContext(context.Background(), "chroot", user, root, "/gateway", "run", "--config", "/etc/wogate/config.yaml")
	gw.Env, gw.Stdout, gw.Stderr = env, &log, &log
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gw.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = gw.Process.Kill()
			<-done
		}
	}()
	health := []string{"/gateway", "health", "--url", fmt.Sprintf("http://127.0.0.1:%d/healthz", pub)}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out := chroot(nil, health...)
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the image's health check did not pass within 30s: %s\ngateway log:\n%s", out, log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := gw.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Errorf("gateway in the image exited with %v after SIGTERM\n%s", err, log.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("gateway in the image did not stop within 60s of SIGTERM\n%s", log.String())
	}
	// It wrote its store into the volume, as the image's user.
	var owned int
	_ = filepath.WalkDir(filepath.Join(root, "data"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			if st, err := os.Stat(p); err == nil && int(st.Sys().(*syscall.Stat_t).Uid) == uid {
				owned++
			}
		}
		return nil
	})
	if owned == 0 {
		t.Errorf("no file in /data written by uid %d after a run\n%s", uid, log.String())
	}
}

func userSpec(s string) (uid, gid int, ok bool) {
	u, g, found := strings.Cut(s, ":")
	if !found {
		return 0, 0, false
	}
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	return uid, gid, err1 == nil && err2 == nil
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil { //nolint:gosec // a build context, read by buildah
		t.Fatal(err)
	}
}
