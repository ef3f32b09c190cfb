package ldaptest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// SlapdInstall is how to get the binaries on Debian.
const SlapdInstall = `echo 'slapd slapd/no_configuration boolean true' | debconf-set-selections && ` +
	`DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slapd ldap-utils`

// Paths of the Debian slapd binaries.
const (
	SlapdBin   = "/usr/sbin/slapd"
	SlapaddBin = "/usr/sbin/slapadd"
)

// SlapdOptions shapes the generated directory.
type SlapdOptions struct {
	// Users is the number of people (default 1000).
	Users int
	// TeamSize is the number of consecutive people per team group (default 25).
	TeamSize int
	// Depts is the number of departments (default 10).
	Depts int
	// TLS adds an ldaps:// listener and StartTLS with a generated certificate.
	TLS bool
	// LimitedPagedTotal, when > 0, creates cn=limited,ou=services whose paged
	// searches stop after that many entries (size.prtotal), to provoke a
	// size-limit hit.
	LimitedPagedTotal int
}

// Slapd is a running throwaway OpenLDAP server.
type Slapd struct {
	Dir      string
	Port     int
	URL      string // ldap://127.0.0.1:PORT
	LDAPSURL string // ldaps://127.0.0.1:PORT2 when TLS
	CAFile   string // the self-signed certificate when TLS

	Suffix, PeopleDN, GroupsDN string

	AdminDN, AdminPassword, AdminPasswordFile string
	// ReaderDN has AD-like limits: 1000 entries per page, unlimited paged total.
	ReaderDN, ReaderPasswordFile string
	// LimitedDN exists when SlapdOptions.LimitedPagedTotal > 0.
	LimitedDN, LimitedPasswordFile string

	Users int

	conf, urls string
	cmd        *exec.Cmd
	exited     chan struct{}
	log        *bytes.Buffer
}

// StartSlapd generates and loads a directory and starts slapd on loopback.
// It is stopped when t ends.
func StartSlapd(t testing.TB, o SlapdOptions) *Slapd {
	t.Helper()
	Need(t, SlapdInstall, SlapdBin, SlapaddBin)
	if o.Users == 0 {
		o.Users = 1000
	}
	if o.TeamSize == 0 {
		o.TeamSize = 25
	}
	if o.Depts == 0 {
		o.Depts = 10
	}
	dir := t.TempDir()
	s := &Slapd{
		Dir:       dir,
		Suffix:    "dc=example,dc=com",
		PeopleDN:  "ou=people,dc=example,dc=com",
		GroupsDN:  "ou=groups,dc=example,dc=com",
		AdminDN:   "cn=admin,dc=example,dc=com",
		ReaderDN:  "cn=reader,ou=services,dc=example,dc=com",
		Users:     o.Users,
		conf:      filepath.Join(dir, "slapd.conf"),
		exited:    make(chan struct{}),
		log:       &bytes.Buffer{},
		Port:      FreePort(t),
		LimitedDN: "",
	}
	s.AdminPassword = "admin-secret"
	s.AdminPasswordFile = writeSecret(dir, "admin.pw", s.AdminPassword)
	s.ReaderPasswordFile = writeSecret(dir, "reader.pw", "reader-secret")
	if o.LimitedPagedTotal > 0 {
		s.LimitedDN = "cn=limited,ou=services,dc=example,dc=com"
		s.LimitedPasswordFile = writeSecret(dir, "limited.pw", "limited-secret")
	}
	s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", s.Port)
	s.urls = s.URL + "/"
	var tlsConf string
	if o.TLS {
		cert, key, err := WriteCert(dir)
		if err != nil {
			t.Fatal(err)
		}
		s.CAFile = cert
		s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", FreePort(t))
		s.urls += " " + s.LDAPSURL + "/"
		tlsConf = fmt.Sprintf("TLSCertificateFile %s\nTLSCertificateKeyFile %s\n", cert, key)
	}
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.conf, []byte(s.config(tlsConf, o)), 0o600); err != nil {
		t.Fatal(err)
	}
	ldif := filepath.Join(dir, "data.ldif")
	f, err := os.Create(ldif)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	s.writeLDIF(w, o)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// -q: no consistency checks (fast), -w: write contextCSN for syncprov.
	if out, err := exec.Command(SlapaddBin, "-q", "-w", "-f", s.conf, "-l", ldif).CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}
	os.Remove(ldif)
	s.start(t)
	t.Cleanup(s.Stop)
	return s
}

func (s *Slapd) start(t testing.TB) {
	t.Helper()
	s.exited = make(chan struct{})
	s.log.Reset()
	s.cmd = exec.Command(SlapdBin, "-d", "0", "-f", s.conf, "-h", s.urls)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start slapd: %v", err)
	}
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(s.cmd, s.exited)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := goldap.DialURL(s.URL)
		if err == nil {
			_, err = c.Search(goldap.NewSearchRequest("", goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"namingContexts"}, nil))
			c.Close()
			if err == nil {
				return
			}
		}
		select {
		case <-s.exited:
			t.Fatalf("slapd exited: %s", s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			s.Kill()
			t.Fatalf("slapd not ready on %s: %v\n%s", s.URL, err, s.log.String())
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// Restart starts a stopped server again on the same port and data.
func (s *Slapd) Restart(t testing.TB) { s.start(t) }

// Stop terminates slapd gracefully (SIGTERM, then SIGKILL after 10s).
func (s *Slapd) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.Kill()
	}
}

// Kill stops slapd at once, as a crash would.
func (s *Slapd) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
}

// Admin returns a connection bound as the rootdn.
func (s *Slapd) Admin(t testing.TB) *goldap.Conn {
	t.Helper()
	c, err := goldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Bind(s.AdminDN, s.AdminPassword); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// UserDN is the DN of generated person i (1-based).
func (s *Slapd) UserDN(i int) string { return fmt.Sprintf("uid=%s,%s", s.UID(i), s.PeopleDN) }

// UID is the uid of generated person i.
func (s *Slapd) UID(i int) string {
	return fmt.Sprintf("user%0*d", max(6, len(fmt.Sprint(s.Users))), i)
}

func (s *Slapd) config(tlsConf string, o SlapdOptions) string {
	limited := ""
	if s.LimitedDN != "" {
		limited = fmt.Sprintf("limits dn.exact=%q size.soft=100 size.hard=100 size.pr=100 size.prtotal=%d\n", s.LimitedDN, o.LimitedPagedTotal)
	}
	return fmt.Sprintf(`# generated by rostersync's ldaptest
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload syncprov
pidfile  %[1]s/slapd.pid
argsfile %[1]s/slapd.args
loglevel none
threads 4
tool-threads 2
sizelimit 500
%[2]s
database mdb
maxsize 4294967296
suffix %[3]q
rootdn %[4]q
rootpw %[5]s
directory %[1]s/db
dbnosync
index objectClass eq
index uid,mail,employeeNumber eq
index cn,sn,givenName eq,sub
index member,memberOf,manager eq
index entryUUID,entryCSN eq
limits dn.exact=%[6]q size.soft=1000 size.hard=1000 size.pr=1000 size.prtotal=unlimited time=unlimited
%[7]saccess to dn.base="" by * read
access to dn.base="cn=Subschema" by * read
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none

overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE

overlay syncprov
syncprov-checkpoint 100 10
syncprov-sessionlog 10000
`, s.Dir, tlsConf, s.Suffix, s.AdminDN, s.AdminPassword, s.ReaderDN, limited)
}

var (
	firstNames = strings.Fields("James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Sandra Mark Ashley")
	lastNames  = strings.Fields("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts")
	titles     = strings.Split("Engineer|Senior Engineer|Agent|Team Leader|Manager|Analyst|QA Evaluator|Trainer|Support Specialist|Sales Representative", "|")
)

// Teams is the number of team groups generated for o.
func teams(users, teamSize int) int { return (users-1)/teamSize + 1 }

// writeLDIF generates the directory:
//
//	ou=people:   uid=userNNNNNN inetOrgPerson (uid cn givenName sn mail
//	             employeeNumber title departmentNumber), memberOf written
//	             directly (slapadd bypasses overlays)
//	ou=people,ou=sales / ou=support,ou=people: empty OUs to move people to
//	ou=groups:   cn=team-NNNNN groupOfNames (TeamSize consecutive people),
//	             cn=dept-NN groupOfNames (everyone with that departmentNumber),
//	             cn=all-departments whose members are the dept groups (nesting)
//	ou=services: cn=reader (and cn=limited) simple-bind accounts
func (s *Slapd) writeLDIF(w io.Writer, o SlapdOptions) {
	S, P, G := s.Suffix, s.PeopleDN, s.GroupsDN
	fmt.Fprintf(w, "dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example Corp\n\n", S)
	for _, ou := range []string{"dn: " + P + "\nou: people", "dn: ou=sales," + P + "\nou: sales", "dn: ou=support," + P + "\nou: support", "dn: " + G + "\nou: groups", "dn: ou=services," + S + "\nou: services"} {
		fmt.Fprintf(w, "%s\nobjectClass: organizationalUnit\n\n", ou)
	}
	fmt.Fprintf(w, "dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\nuserPassword: reader-secret\n\n", s.ReaderDN)
	if s.LimitedDN != "" {
		fmt.Fprintf(w, "dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: limited\nuserPassword: limited-secret\n\n", s.LimitedDN)
	}
	N, K, D := o.Users, o.TeamSize, o.Depts
	for i := 1; i <= N; i++ {
		u := s.UID(i)
		g, l := firstNames[(i-1)%len(firstNames)], lastNames[((i-1)/len(firstNames))%len(lastNames)]
		d, tm := (i-1)%D+1, (i-1)/K+1
		fmt.Fprintf(w, "dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s %s\ngivenName: %s\nsn: %s\nmail: %s@example.com\nemployeeNumber: %d\ntitle: %s\ndepartmentNumber: D%02d\n",
			u, P, u, g, l, g, l, u, i, titles[(i-1)%len(titles)], d)
		fmt.Fprintf(w, "memberOf: cn=team-%05d,%s\nmemberOf: cn=dept-%02d,%s\n\n", tm, G, d, G)
	}
	for tm := 1; tm <= teams(N, K); tm++ {
		fmt.Fprintf(w, "dn: cn=team-%05d,%s\nobjectClass: groupOfNames\ncn: team-%05d\n", tm, G, tm)
		for i := (tm-1)*K + 1; i <= min(tm*K, N); i++ {
			fmt.Fprintf(w, "member: %s\n", s.UserDN(i))
		}
		fmt.Fprint(w, "\n")
	}
	for d := 1; d <= min(D, N); d++ {
		fmt.Fprintf(w, "dn: cn=dept-%02d,%s\nobjectClass: groupOfNames\ncn: dept-%02d\n", d, G, d)
		for i := d; i <= N; i += D {
			fmt.Fprintf(w, "member: %s\n", s.UserDN(i))
		}
		fmt.Fprintf(w, "memberOf: cn=all-departments,%s\n\n", G)
	}
	fmt.Fprintf(w, "dn: cn=all-departments,%s\nobjectClass: groupOfNames\ncn: all-departments\n", G)
	for d := 1; d <= min(D, N); d++ {
		fmt.Fprintf(w, "member: cn=dept-%02d,%s\n", d, G)
	}
	fmt.Fprint(w, "\n")
}
