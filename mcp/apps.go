package mcp

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// MCP Apps (SEP-1865, extension io.modelcontextprotocol/ui): a server ships
// HTML views as ui:// resources and links tools to them with _meta.ui. The
// extension is negotiated: a client declares it under
// capabilities.extensions with the MIME types it renders; only then does the
// server advertise it, list the ui:// resources and add _meta.ui to the
// linked tools. Every other client sees the server exactly as without it.

// UIExtension is the MCP Apps extension identifier.
const UIExtension = "io.modelcontextprotocol/ui"

// UIMimeType is the MIME type of an MCP Apps HTML view.
const UIMimeType = "text/html;profile=mcp-app"

type uiCaps struct {
	Extensions map[string]struct {
		MimeTypes []string `json:"mimeTypes"`
	} `json:"extensions"`
}

// DeclaresUI reports whether the session's client declared the MCP Apps
// extension with the HTML view MIME type in its capabilities.
func (s *Session) DeclaresUI() bool {
	if s == nil {
		return false
	}
	return declaresUI(s.ClientCapabilities())
}

func declaresUI(caps json.RawMessage) bool {
	if len(caps) == 0 {
		return false
	}
	var c uiCaps
	if json.Unmarshal(caps, &c) != nil {
		return false
	}
	ext, ok := c.Extensions[UIExtension]
	return ok && slices.Contains(ext.MimeTypes, UIMimeType)
}

// AddUIResource registers an MCP Apps view: a ui:// resource with MIME type
// UIMimeType, listed and readable only by sessions whose client declared the
// extension. It panics on a URI that is not ui:// or is already registered.
func (s *Server) AddUIResource(r Resource, h ResourceHandler) {
	if !strings.HasPrefix(r.URI, "ui://") || h == nil {
		panic(fmt.Sprintf("mcp: AddUIResource %q: needs a ui:// URI and a handler", r.URI))
	}
	r.MimeType = UIMimeType
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.uiResources == nil {
		s.uiResources = map[string]*resourceEntry{}
	}
	if _, dup := s.uiResources[r.URI]; dup {
		panic(fmt.Sprintf("mcp: AddUIResource %q: already registered", r.URI))
	}
	e := &resourceEntry{res: r, handler: h}
	s.uiResources[r.URI] = e
	s.uiResOrder = append(s.uiResOrder, e)
}

// LinkToolUI links a registered tool to a view added with AddUIResource:
// clients that declared the extension see _meta.ui.resourceUri on the tool.
// It reports false, and links nothing, when no such tool is registered (a
// server built without it); it panics when the view is not registered.
func (s *Server) LinkToolUI(tool, uri string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tools[tool]; !ok {
		return false
	}
	if _, ok := s.uiResources[uri]; !ok {
		panic(fmt.Sprintf("mcp: LinkToolUI: no view %q", uri))
	}
	if s.toolUI == nil {
		s.toolUI = map[string]string{}
	}
	s.toolUI[tool] = uri
	return true
}

// uiActive reports whether sess gets the MCP Apps additions.
func (s *Server) uiActive(sess *Session) bool {
	s.mu.RLock()
	n := len(s.uiResources)
	s.mu.RUnlock()
	return n > 0 && sess.DeclaresUI()
}

// uiTool returns t with _meta.ui when it is linked to a view. The key
// "ui/resourceUri" is the flat form earlier hosts read.
func (s *Server) uiTool(t Tool) Tool {
	if uri, ok := s.toolUI[t.Name]; ok {
		t.Meta = map[string]any{"ui": map[string]any{"resourceUri": uri}, "ui/resourceUri": uri}
	}
	return t
}

// listUITools is tools/list for a session that declared the extension.
func (s *Server) listUITools(p *reqParams, stateless bool, sess *Session) (any, error) {
	s.mu.RLock()
	all := make([]Tool, 0, len(s.toolOrder))
	for _, e := range s.toolOrder {
		all = append(all, s.uiTool(e.tool))
	}
	s.mu.RUnlock()
	if s.opts.ToolVisible != nil && sess.Scopes() != nil {
		all = slices.DeleteFunc(all, func(t Tool) bool { return !s.opts.ToolVisible(sess, t.Name) })
	}
	lo, hi, next, err := s.page(p.Cursor, len(all))
	if err != nil {
		return nil, err
	}
	return json.RawMessage(listResult("tools", all[lo:hi], next, stateless)), nil
}

// uiHandler returns the handler of the view at uri for sess, or nil.
func (s *Server) uiHandler(uri string, sess *Session) ResourceHandler {
	if !strings.HasPrefix(uri, "ui://") || !s.uiActive(sess) {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if e, ok := s.uiResources[uri]; ok {
		return e.handler
	}
	return nil
}

// uiResourceList returns the views, for resources/list of a session that
// declared the extension.
func (s *Server) uiResourceList() []Resource {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Resource, len(s.uiResOrder))
	for i, e := range s.uiResOrder {
		out[i] = e.res
	}
	return out
}

// uiCapabilities adds the extension and the resources capability to caps for
// a client that declared the extension.
func (s *Server) uiCapabilities(caps map[string]any, clientCaps json.RawMessage) map[string]any {
	s.mu.RLock()
	n := len(s.uiResources)
	s.mu.RUnlock()
	if n == 0 || !declaresUI(clientCaps) {
		return caps
	}
	caps["extensions"] = map[string]any{UIExtension: map[string]any{"mimeTypes": []string{UIMimeType}}}
	if _, ok := caps["resources"]; !ok {
		caps["resources"] = map[string]bool{"listChanged": true}
	}
	return caps
}

func sessCaps(sess *Session) json.RawMessage {
	if sess == nil {
		return nil
	}
	return sess.ClientCapabilities()
}
