package evaluagentsim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// keyState is one key's place in the §3.2 state machine.
type keyState struct {
	id      string
	secret  string
	mode    string // ModeBasic, ModeBearer or ModeRevoked
	token   string // the current token in bearer mode
	expires time.Time
	allow   []netip.Prefix // empty: any address
}

const (
	detailUnauthorized  = "Unauthorized. Check your API credentials."
	detailTokenNeedsBas = "Forbidden. Bearer Tokens can only be created using Basic Auth."
	detailNeedsToken    = "Forbidden. Must use Token authentication."
	detailIPNotAllowed  = "IP address not allowed"
)

// authenticate identifies the key of a request and the scheme it used. A request is accepted
// only in the scheme the key's state allows (§3.2), and only from its allow-list (§3.4).
func (s *Server) authenticate(r *http.Request, now time.Time) (*keyState, string, *response) {
	unauthorized := errResp(http.StatusUnauthorized, detailUnauthorized)
	scheme, cred, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok {
		return nil, "", &unauthorized
	}
	cred = strings.TrimSpace(cred)
	var key *keyState
	switch strings.ToLower(scheme) {
	case ModeBasic:
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return nil, "", &unauthorized
		}
		id, secret, _ := strings.Cut(string(raw), ":")
		for _, k := range s.keys {
			if k.id == id && subtle.ConstantTimeCompare([]byte(secret), []byte(k.secret)) == 1 {
				key = k
			}
		}
		if key == nil || key.mode != ModeBasic {
			return nil, "", &unauthorized
		}
		scheme = ModeBasic
	case ModeBearer:
		for _, k := range s.keys {
			if k.token != "" && subtle.ConstantTimeCompare([]byte(cred), []byte(k.token)) == 1 {
				key = k
			}
		}
		if key == nil || key.mode != ModeBearer || !now.Before(key.expires) {
			return nil, "", &unauthorized
		}
		scheme = ModeBearer
	default:
		return nil, "", &unauthorized
	}
	if !key.allowed(r.RemoteAddr) {
		forbidden := errResp(http.StatusForbidden, detailIPNotAllowed)
		return nil, "", &forbidden
	}
	return key, scheme, nil
}

func (k *keyState) allowed(remoteAddr string) bool {
	if len(k.allow) == 0 {
		return true
	}
	var ip netip.Addr
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		ip = ap.Addr()
	} else if a, err := netip.ParseAddr(remoteAddr); err == nil {
		ip = a
	} else {
		return false
	}
	ip = ip.Unmap()
	for _, p := range k.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

type tokenAttrs struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"`
}

// issueToken gives the key a fresh token, invalidating any previous one, and switches it to
// bearer mode for good.
func (s *Server) issueToken(c *call, status int) response {
	k := c.key
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	k.mode, k.token, k.expires = ModeBearer, hex.EncodeToString(b), c.now.Add(tokenValidity)
	return jsonResp(status, document{Data: resource[tokenAttrs]{
		Type:       "tokens",
		ID:         s.st.ids.mint(),
		Attributes: tokenAttrs{Token: k.token, ExpiresAt: timestamp(k.expires)},
	}})
}

func (s *Server) createToken(c *call) response {
	if c.scheme != ModeBasic {
		return errResp(http.StatusForbidden, detailTokenNeedsBas)
	}
	return s.issueToken(c, http.StatusCreated)
}

func (s *Server) refreshToken(c *call) response {
	if c.scheme != ModeBearer {
		return errResp(http.StatusForbidden, detailNeedsToken)
	}
	return s.issueToken(c, http.StatusOK)
}

func (s *Server) revokeToken(c *call) response {
	if c.scheme != ModeBearer {
		return errResp(http.StatusForbidden, detailNeedsToken)
	}
	c.key.mode, c.key.token = ModeRevoked, ""
	return response{status: http.StatusNoContent}
}

type pingAttrs struct {
	AuthMethod string  `json:"auth_method"`
	ExpiresAt  *string `json:"expires_at"`
}

func (s *Server) ping(c *call) response {
	attrs := pingAttrs{AuthMethod: c.scheme}
	if c.scheme == ModeBearer {
		ts := timestamp(c.key.expires)
		attrs.ExpiresAt = &ts
	}
	return jsonResp(http.StatusOK, document{Data: resource[pingAttrs]{Type: "auth", ID: c.key.id, Attributes: attrs}})
}
