package evaluagentsim

type roleAttrs struct {
	Name  string `json:"name"`
	Title string `json:"title"`
}

type roleRels struct {
	Abilities toMany `json:"abilities"`
}

type levelAttrs struct {
	Name string `json:"name"`
}

type abilityAttrs struct {
	Name  string `json:"name"`
	Title string `json:"title"`
}

func (s *Server) listRoles(c *call) response {
	var items []any
	for _, r := range s.st.roles {
		items = append(items, resourceRel[roleAttrs, roleRels]{
			Type: "roles", ID: r.id,
			Attributes:    roleAttrs{Name: r.name, Title: r.title},
			Relationships: roleRels{Abilities: idents("abilities", r.abilityIDs)},
		})
	}
	return s.collection(c, items, true)
}

func (s *Server) listLevels(c *call) response {
	var items []any
	for _, l := range s.st.levels {
		items = append(items, resource[levelAttrs]{Type: "levels", ID: l.id, Attributes: levelAttrs{Name: l.name}})
	}
	return s.collection(c, items, true)
}

func (s *Server) listAbilities(c *call) response {
	var items []any
	for _, a := range s.st.abilities {
		items = append(items, resource[abilityAttrs]{Type: "abilities", ID: a.id, Attributes: abilityAttrs{Name: a.name, Title: a.title}})
	}
	return s.collection(c, items, true)
}
