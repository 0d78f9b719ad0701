package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sampleInventory = `# hosts before any section are "ungrouped"
mail.example.com

[web]
web[01:03].example.com ansible_user=deploy
www  ansible_host=10.0.0.9 ansible_port=2222   # the front

[db]
db-[a:b] ansible_ssh_host=10.1.0.1 ansible_ssh_user="admin" ansible_ssh_port=22
web01.example.com

[eu:children]
web

[eu:vars]
ntp_server=ntp.eu.example.com

[odd]
n[0:10:5]
`

func TestInventory(t *testing.T) {
	f := filepath.Join(t.TempDir(), "inv.ini")
	os.WriteFile(f, []byte(sampleInventory), 0o644)
	inv, err := readInventory(f)
	if err != nil {
		t.Fatal(err)
	}
	sel := func(p string) string {
		hs, err := inv.selectHosts(p)
		if err != nil {
			return "error: " + err.Error()
		}
		var s []string
		for _, h := range hs {
			s = append(s, h.name+"="+h.target())
		}
		return strings.Join(s, " ")
	}
	for p, want := range map[string]string{
		"": "mail.example.com=mail.example.com web01.example.com=deploy@web01.example.com web02.example.com=deploy@web02.example.com " +
			"web03.example.com=deploy@web03.example.com www=10.0.0.9:2222 db-a=admin@10.1.0.1:22 db-b=admin@10.1.0.1:22 n0=n0 n5=n5 n10=n10",
		"web":       "web01.example.com=deploy@web01.example.com web02.example.com=deploy@web02.example.com web03.example.com=deploy@web03.example.com www=10.0.0.9:2222",
		"eu":        "web01.example.com=deploy@web01.example.com web02.example.com=deploy@web02.example.com web03.example.com=deploy@web03.example.com www=10.0.0.9:2222",
		"db:www":    "web01.example.com=deploy@web01.example.com www=10.0.0.9:2222 db-a=admin@10.1.0.1:22 db-b=admin@10.1.0.1:22",
		"eu,!www":   "web01.example.com=deploy@web01.example.com web02.example.com=deploy@web02.example.com web03.example.com=deploy@web03.example.com",
		"web,&db":   "web01.example.com=deploy@web01.example.com",
		"web0*":     "web01.example.com=deploy@web01.example.com web02.example.com=deploy@web02.example.com web03.example.com=deploy@web03.example.com",
		"ungrouped": "mail.example.com=mail.example.com",
		"nosuch":    `error: --limit: "nosuch" matches no group or host of the inventory`,
	} {
		if got := sel(p); got != want {
			t.Errorf("%q:\n got %s\nwant %s", p, got, want)
		}
	}
	for _, bad := range []string{"[web\nx\n", "[web:weird]\n", "[g]\nh ansible_port=x\n", "[g]\nh noequals\n", "[g]\nh[3:1]\n", "[g:children]\nnope\n", "[g]\nh[1:2\n"} {
		os.WriteFile(f, []byte(bad), 0o644)
		if _, err := readInventory(f); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSSHConfigHosts(t *testing.T) {
	d := t.TempDir()
	os.WriteFile(filepath.Join(d, "config"), []byte("Host alpha beta *.wild !neg\n  HostName x\nInclude conf.d/*\nhost=gamma\nMatch host delta\n  User u\nHost alpha\n"), 0o644)
	os.Mkdir(filepath.Join(d, "conf.d"), 0o755)
	os.WriteFile(filepath.Join(d, "conf.d", "more"), []byte("Host \"db1\" db2\n"), 0o644)
	for p, want := range map[string]string{"*": "alpha beta db1 db2 gamma", "db*,alpha": "alpha db1 db2", "b*": "beta"} {
		hs, err := sshConfigHosts(filepath.Join(d, "config"), p)
		if got := strings.Join(hs, " "); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", p, got, err, want)
		}
	}
	if _, err := sshConfigHosts(filepath.Join(d, "config"), "zz*"); err == nil {
		t.Error("no match accepted")
	}
}

// Hosts from an inventory (labelled by their inventory names) and from ssh
// config aliases run like the others; -H, files and those sources mix, each
// host once.
func TestInventoryAndAliasesLive(t *testing.T) {
	srv, _ := sandbox(t)
	d := t.TempDir()
	inv := filepath.Join(d, "inv.ini")
	os.WriteFile(inv, []byte("[web]\nw1 ansible_host=127.0.0.2\nw2 ansible_host=127.0.0.3\n[db]\nd1 ansible_host=127.0.0.4\n"), 0o644)
	out, errs, code := ossh(t, "run", "-F", srv.SSHConfig, "--inventory", inv, "--limit", "web", "-a", "--", "echo %LABEL%")
	if code != 0 || !strings.Contains(out, "w1: w1\n") || !strings.Contains(out, "w2: w2\n") || strings.Contains(out, "d1") {
		t.Errorf("inventory: exit %d\n%s%s", code, out, errs)
	}
	cfg := filepath.Join(d, "ssh_config")
	// The Include comes after a "Match all": inside the beta block it
	// would apply to beta alone.
	os.WriteFile(cfg, []byte("Host alpha\n  HostName 127.0.0.2\nHost beta\n  HostName 127.0.0.3\nMatch all\nInclude "+srv.SSHConfig+"\n"), 0o644)
	out, errs, code = ossh(t, "run", "-F", cfg, "--ssh-hosts", "*", "-H", "127.0.0.4", "--inventory", inv, "--limit", "d1", "--", "echo %LABEL%")
	if code != 0 || !strings.Contains(out, "alpha: alpha\n") || !strings.Contains(out, "beta: beta\n") ||
		!strings.Contains(out, "127.0.0.4: 127.0.0.4\n") || strings.Contains(out, "d1") || !strings.Contains(errs, "127.0.0.4 is listed more than once") {
		t.Errorf("aliases: exit %d\n%s%s", code, out, errs)
	}
	if _, errs, code := ossh(t, "run", "--inventory", inv, "--limit", "nosuch", "true"); code != exitUsage {
		t.Errorf("bad --limit: exit %d %s", code, errs)
	}
	if _, _, code := ossh(t, "run", "--inventory", filepath.Join(d, "missing"), "true"); code != exitInternal {
		t.Errorf("missing inventory: exit %d", code)
	}
}
