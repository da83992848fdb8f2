// Package ui holds sibyl's pictures: MCP Apps views (SEP-1865) served as
// ui://sibyl/... resources and linked from the tools whose answers they draw,
// and the /ui web page of the HTTP transport. Every view is one
// self-contained HTML document (inline CSS, inline script, inline SVG, no
// network) assembled from the files under views/ embedded in the binary.
package ui

import (
	"context"
	"embed"
	"strings"

	"github.com/sibylmcp/sibyl/mcp"
)

//go:embed views/*.js views/*.css
var files embed.FS

// View is one MCP Apps view: its resource URI, the tools it is linked to and
// the name of its drawing function.
type View struct {
	URI   string   // ui://sibyl/NAME
	Name  string   // the drawing function's key in SIBYL.views, and views/NAME.js
	Title string   // for resources/list
	Tools []string // the tools whose results it draws
}

// Views lists the views sibyl ships.
var Views = []View{
	{URI: "ui://sibyl/hedge", Name: "hedge", Title: "Hedge payoff", Tools: []string{"hedge_position", "plan_hedge"}},
	{URI: "ui://sibyl/orderbook", Name: "orderbook", Title: "Order book depth", Tools: []string{"get_orderbook"}},
	{URI: "ui://sibyl/grade", Name: "grade", Title: "Token grade components", Tools: []string{"get_token_grade"}},
	{URI: "ui://sibyl/history", Name: "history", Title: "Market probability history", Tools: []string{"get_market_history"}},
}

func file(name string) string {
	b, err := files.ReadFile("views/" + name)
	if err != nil {
		panic("ui: missing embedded file " + name)
	}
	return string(b)
}

// inlineScript makes s safe inside a <script> element.
func inlineScript(s string) string { return strings.ReplaceAll(s, "</", `<\/`) }

// HTML returns the self-contained document of the view named name.
func HTML(name string) string {
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">")
	b.WriteString("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">")
	b.WriteString("<title>sibyl ")
	b.WriteString(name)
	b.WriteString("</title><style>")
	b.WriteString(file("style.css"))
	b.WriteString("</style></head><body><div id=\"app\" class=\"view\" data-state=\"waiting\"><div class=\"msg\" role=\"status\">Waiting for the tool result…</div></div><script>")
	b.WriteString(inlineScript(file("common.js")))
	b.WriteString(inlineScript(file(name + ".js")))
	b.WriteString("SIBYL.view=")
	b.WriteString(`"` + name + `"`)
	b.WriteString(";\n")
	b.WriteString(inlineScript(file("bridge.js")))
	b.WriteString("</script></body></html>\n")
	return b.String()
}

// Register adds every view to s as an MCP Apps resource and links it to those
// of its tools that s has. Only clients that declare the extension see them.
func Register(s *mcp.Server) {
	for _, v := range Views {
		html := HTML(v.Name)
		uri := v.URI
		s.AddUIResource(mcp.Resource{URI: uri, Name: "sibyl-" + v.Name, Title: v.Title,
			Description: "MCP Apps view: draws the answer of " + strings.Join(v.Tools, " and ")},
			func(context.Context, string, *mcp.Session) ([]mcp.ResourceContents, error) {
				return []mcp.ResourceContents{{URI: uri, MimeType: mcp.UIMimeType, Text: html}}, nil
			})
		for _, t := range v.Tools {
			s.LinkToolUI(t, uri)
		}
	}
}
