package ldaptest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// SambaInstall is how to get the binaries on Debian (the policy-rc.d dance
// keeps the package from starting the system services).
const SambaInstall = `printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && ` +
	`DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends samba-ad-dc samba-ad-provision; rm -f /usr/sbin/policy-rc.d`

// SambaPrograms are the programs a Samba AD test needs.
var SambaPrograms = []string{"samba", "samba-tool"}

// SambaAD is a throwaway Samba Active Directory domain controller. Samba's
// LDAP port is fixed (389), so only one can run per host: share one per test
// binary.
type SambaAD struct {
	Dir      string
	URL      string // ldap://127.0.0.1
	BaseDN   string // DC=example,DC=com
	PeopleDN string // OU=People,DC=example,DC=com
	GroupsDN string // OU=Groups,DC=example,DC=com

	AdminUPN, AdminPassword, AdminPasswordFile string

	// Users is how many people LoadPeople created.
	Users int

	conf   string
	cmd    *exec.Cmd
	exited chan struct{}
	log    bytes.Buffer
}

// StartSambaAD provisions a domain EXAMPLE.COM into dir (which must be
// empty or absent), starts samba with only its LDAP service on loopback and
// loads LoadPeople(users). Stop it with Stop.
func StartSambaAD(dir string, users int) (*SambaAD, error) {
	if c, err := net.DialTimeout("tcp", "127.0.0.1:389", 200*time.Millisecond); err == nil {
		c.Close()
		return nil, errors.New("port 389 on 127.0.0.1 is already in use (another samba or slapd?)")
	}
	s := &SambaAD{
		Dir:           dir,
		URL:           "ldap://127.0.0.1",
		BaseDN:        "DC=example,DC=com",
		PeopleDN:      "OU=People,DC=example,DC=com",
		GroupsDN:      "OU=Groups,DC=example,DC=com",
		AdminUPN:      "Administrator@example.com",
		AdminPassword: "Passw0rd!Passw0rd",
		conf:          filepath.Join(dir, "etc", "smb.conf"),
		exited:        make(chan struct{}),
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s.AdminPasswordFile = writeSecret(dir, "admin.pw", s.AdminPassword)
	out, err := exec.Command("samba-tool", "domain", "provision", "--targetdir="+dir,
		"--realm=EXAMPLE.COM", "--domain=EXAMPLE", "--server-role=dc", "--dns-backend=NONE",
		"--adminpass="+s.AdminPassword, "--host-ip=127.0.0.1", "--host-name=dc1", "--use-rfc2307",
		"--option=interfaces=lo", "--option=bind interfaces only=yes",
		"--option=server services = ldap", "--option=pid directory = "+filepath.Join(dir, "run"),
		"--option=log file = "+filepath.Join(dir, "log.%m"),
	).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("samba-tool domain provision: %v\n%s", err, tail(out, 20))
	}
	conf, err := os.ReadFile(s.conf)
	if err != nil {
		return nil, err
	}
	// Simple binds over plain LDAP: loopback tests only.
	conf = bytes.Replace(conf, []byte("[global]\n"), []byte("[global]\n\tldap server require strong auth = no\n"), 1)
	if err := os.WriteFile(s.conf, conf, 0o600); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o700); err != nil {
		return nil, err
	}
	s.cmd = exec.Command("samba", "-i", "-M", "single", "-s", s.conf)
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start samba: %w", err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := s.Admin()
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("samba exited: %s", tail(s.log.Bytes(), 20))
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("samba not ready: %v\n%s", err, tail(s.log.Bytes(), 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := s.LoadPeople(users); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Stop terminates samba (its whole process group).
func (s *SambaAD) Stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
}

// Admin returns a connection bound as Administrator.
func (s *SambaAD) Admin() (*goldap.Conn, error) {
	c, err := goldap.DialURL(s.URL)
	if err != nil {
		return nil, err
	}
	if err := c.Bind(s.AdminUPN, s.AdminPassword); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// UserDN is the DN of generated person i (1-based).
func (s *SambaAD) UserDN(i int) string { return fmt.Sprintf("CN=%s,%s", s.Sam(i), s.PeopleDN) }

// Sam is the sAMAccountName of generated person i.
func (s *SambaAD) Sam(i int) string { return fmt.Sprintf("user%03d", i) }

// GroupDN is the DN of a generated group.
func (s *SambaAD) GroupDN(name string) string { return "CN=" + name + "," + s.GroupsDN }

// Disabled reports whether generated person i was created disabled
// (every fifth one).
func Disabled(i int) bool { return i%5 == 0 }

// LoadPeople creates:
//
//	OU=People (with empty OU=Sales and OU=Support to move people to), OU=Groups
//	CN=userNNN  user, sAMAccountName, names, mail, department, title;
//	            userAccountControl 546 (disabled) for every fifth, else 544
//	CN=team-a   group: user001..user005
//	CN=team-b   group: user006..user010
//	CN=dept-x   group: team-a (nested)
//	CN=company  group: dept-x, team-b (nested twice)
func (s *SambaAD) LoadPeople(n int) error {
	c, err := s.Admin()
	if err != nil {
		return err
	}
	defer c.Close()
	add := func(dn string, attrs map[string][]string) error {
		r := goldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			r.Attribute(k, v)
		}
		if err := c.Add(r); err != nil {
			return fmt.Errorf("add %s: %w", dn, err)
		}
		return nil
	}
	for _, ou := range []string{s.PeopleDN, "OU=Sales," + s.PeopleDN, "OU=Support," + s.PeopleDN, s.GroupsDN} {
		name := strings.TrimPrefix(strings.SplitN(ou, ",", 2)[0], "OU=")
		if err := add(ou, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {name}}); err != nil {
			return err
		}
	}
	for i := 1; i <= n; i++ {
		u := s.Sam(i)
		uac := "544"
		if Disabled(i) {
			uac = "546"
		}
		if err := add(s.UserDN(i), map[string][]string{
			"objectClass":        {"user"},
			"sAMAccountName":     {u},
			"userPrincipalName":  {u + "@example.com"},
			"givenName":          {fmt.Sprintf("Given%d", i)},
			"sn":                 {fmt.Sprintf("Sur%d", i)},
			"displayName":        {fmt.Sprintf("Given%d Sur%d", i, i)},
			"mail":               {u + "@example.com"},
			"department":         {fmt.Sprintf("D%02d", (i-1)%3+1)},
			"title":              {"Agent"},
			"userAccountControl": {uac},
		}); err != nil {
			return err
		}
	}
	s.Users = n
	members := func(lo, hi int) []string {
		var out []string
		for i := lo; i <= min(hi, n); i++ {
			out = append(out, s.UserDN(i))
		}
		return out
	}
	for _, g := range []struct {
		name    string
		members []string
	}{
		{"team-a", members(1, 5)},
		{"team-b", members(6, 10)},
		{"dept-x", []string{s.GroupDN("team-a")}},
		{"company", []string{s.GroupDN("dept-x"), s.GroupDN("team-b")}},
	} {
		attrs := map[string][]string{"objectClass": {"group"}, "sAMAccountName": {g.name}}
		if len(g.members) > 0 {
			attrs["member"] = g.members
		}
		if err := add(s.GroupDN(g.name), attrs); err != nil {
			return err
		}
	}
	return nil
}

// ShowGUID asks samba-tool (reading the database directly) for the
// objectGUID of a user, as Samba itself renders it.
func (s *SambaAD) ShowGUID(sam string) (string, error) {
	out, err := exec.Command("samba-tool", "user", "show", sam, "-s", s.conf, "--attributes=objectGUID").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("samba-tool user show: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "objectGUID: "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("no objectGUID in %s", out)
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
