package jws

// Kind is the JSON type of a member's value, as VisitObject reports it.
type Kind uint8

// The kinds of JSON values (RFC 8259 §3).
const (
	String Kind = iota + 1
	Number
	Bool
	Null
	Object
	Array
)

// VisitObject checks s exactly as ParseObject does (it accepts and refuses
// the same texts) without building any value, and calls visit with each
// top-level member's name, kind and text: a string's value, or the JSON
// text of any other value. size is the heap ParseObjectSize would
// estimate for the decoded object. The verifier uses it to read the few
// members it needs before it knows whether a token is genuine, so that a
// forged one costs no decoded claims, and a genuine one only the claims
// something asks for. visit may have been called when the object turns
// out to be invalid: its findings count only when ok is true. It
// allocates only for names and strings with escapes, and to check the
// names of an object of more than 16 members for duplicates.
func VisitObject(s string, visit func(name string, kind Kind, text string)) (size int, ok bool) {
	p := jsonParser{s: s, skip: true}
	p.skipSpace()
	if p.i >= len(s) || s[p.i] != '{' {
		return 0, false
	}
	if _, ok := p.object(visit); !ok {
		return 0, false
	}
	p.skipSpace()
	return p.heap, p.i == len(s)
}

// VisitArray is VisitObject for a JSON array, such as the text VisitObject
// gives for an array member: visit is called with each element's kind and
// text, and an empty name.
func VisitArray(s string, visit func(name string, kind Kind, text string)) bool {
	p := jsonParser{s: s, skip: true}
	p.skipSpace()
	if p.i >= len(s) || s[p.i] != '[' {
		return false
	}
	if _, ok := p.array(visit); !ok {
		return false
	}
	p.skipSpace()
	return p.i == len(s)
}

// visitValue parses the value at p.i for a visitor and tells it of it.
func (p *jsonParser) visitValue(name string, visit func(name string, kind Kind, text string)) bool {
	p.skipSpace()
	if p.i >= len(p.s) {
		return false
	}
	start := p.i
	var kind Kind
	switch c := p.s[p.i]; {
	case c == '"':
		s, ok := p.string()
		p.heap += boxSize
		visit(name, String, s)
		return ok
	case c == '-' || c >= '0' && c <= '9':
		n, ok := p.number()
		p.heap += boxSize
		visit(name, Number, string(n))
		return ok
	case c == '{':
		kind = Object
	case c == '[':
		kind = Array
	case c == 't' || c == 'f':
		kind = Bool
	case c == 'n':
		kind = Null
	}
	_, ok := p.value()
	visit(name, kind, p.s[start:p.i])
	return ok
}

// distinctNames reports whether no name is given twice, as building the
// map finds out in ParseObject. Small objects are compared pairwise,
// larger ones with a set, so that a crafted object of thousands of names
// costs no more than its map would.
func distinctNames(members []jsonMember) bool {
	if len(members) > 16 {
		seen := make(map[string]struct{}, len(members))
		for _, m := range members {
			seen[m.name] = struct{}{}
		}
		return len(seen) == len(members)
	}
	for i := 1; i < len(members); i++ {
		for j := range i {
			if members[i].name == members[j].name {
				return false
			}
		}
	}
	return true
}
