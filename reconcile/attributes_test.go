package reconcile

import "testing"

func TestMergeAttributesRemoves(t *testing.T) {
	got, err := MergeAttributes(`{"location":"Leeds","routing":{"skills":["en"]},"manager":"A"}`,
		map[string]string{"location": AttributeRemoved, "manager": "", "team_name": "North"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"manager":"A","routing":{"skills":["en"]},"team_name":"North"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	ch := attributeChanges(&User{Attributes: map[string]string{"location": "Leeds"}},
		&User{Attributes: map[string]string{"location": AttributeRemoved, "state": AttributeRemoved}})
	if len(ch) != 1 || ch[0].Field != AttributeField("location") || ch[0].Old != "Leeds" || ch[0].New != "" {
		t.Errorf("changes = %+v; want location Leeds → \"\" only (state holds nothing to remove)", ch)
	}
}
