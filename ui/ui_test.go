package ui

import (
	"strings"
	"testing"
)

// TestViewsAreSelfContained: each view is one HTML document whose only URL is
// the SVG namespace name (never fetched), whose script cannot be closed early
// by its own text, and which draws with its own function.
func TestViewsAreSelfContained(t *testing.T) {
	for _, v := range Views {
		h := HTML(v.Name)
		if !strings.HasPrefix(h, "<!doctype html>") || strings.Count(h, "</script>") != 1 {
			t.Errorf("%s: not one document with one inline script", v.Name)
		}
		rest := strings.ReplaceAll(h, `"http://www.w3.org/2000/svg"`, "")
		for _, bad := range []string{"http://", "https://", "src=", "href=", "@import", "fetch(", "XMLHttpRequest"} {
			if strings.Contains(rest, bad) {
				t.Errorf("%s: contains %q: views load nothing", v.Name, bad)
			}
		}
		if !strings.Contains(h, "SIBYL.views."+v.Name+" = function") || !strings.Contains(h, `SIBYL.view="`+v.Name+`"`) {
			t.Errorf("%s: does not define and select its drawing function", v.Name)
		}
		if !strings.Contains(h, "default-src 'none'") {
			t.Errorf("%s: no Content-Security-Policy", v.Name)
		}
	}
}

func TestInlineScriptCannotCloseTheElement(t *testing.T) {
	if got := inlineScript(`a="</script><b>"`); strings.Contains(got, "</") {
		t.Errorf("inlineScript left %q", got)
	}
}
