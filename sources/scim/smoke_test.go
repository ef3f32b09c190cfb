package scim

import "testing"

func TestSmoke(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a@x.com","name":{"givenName":"A","familyName":"B"},"emails":[{"value":"a@x.com","type":"work","primary":true}]}`).must(t, 201)
	t.Log(r.raw, r.header.Get("Location"))
	id := r.str("id")
	r = e.do("GET", "/Users?filter="+q(`userName eq "A@x.com"`), "").must(t, 200)
	t.Log(r.raw)
	r = e.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"value":"`+id+`"}]}`).must(t, 201)
	t.Log(r.raw)
	r = e.do("GET", "/Users/"+id, "").must(t, 200)
	t.Log(r.raw)
}
