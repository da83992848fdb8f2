package mcp

import (
	"context"
	"encoding/json"
	"slices"
)

// subscriptionFilter is the notifications object of subscriptions/listen
// (2026-07-28): which notifications the client wants on the stream.
type subscriptionFilter struct {
	ToolsListChanged      bool     `json:"toolsListChanged,omitempty"`
	PromptsListChanged    bool     `json:"promptsListChanged,omitempty"`
	ResourcesListChanged  bool     `json:"resourcesListChanged,omitempty"`
	ResourceSubscriptions []string `json:"resourceSubscriptions,omitempty"`
}

// listener is an open subscriptions/listen stream.
type listener struct {
	id     json.RawMessage // the listen request's id, used as the subscription id
	filter subscriptionFilter
	out    stream
}

const metaSubscriptionID = "io.modelcontextprotocol/subscriptionId"

// listen serves subscriptions/listen: it acknowledges the filter the server
// can honour, then streams matching notifications until the client goes away.
func (s *Server) listen(ctx context.Context, r *request) (any, error) {
	want := r.p.Notifications
	if want == nil {
		return nil, invalidParams("subscriptions/listen needs params.notifications")
	}
	caps := s.capabilities()
	var agreed subscriptionFilter
	_, hasRes := caps["resources"]
	_, hasPrompts := caps["prompts"]
	agreed.ToolsListChanged = want.ToolsListChanged
	agreed.PromptsListChanged = want.PromptsListChanged && hasPrompts
	agreed.ResourcesListChanged = want.ResourcesListChanged && hasRes
	if hasRes {
		agreed.ResourceSubscriptions = want.ResourceSubscriptions
	}
	l := &listener{id: r.rc.id, filter: agreed, out: r.rc.out}
	ack, err := encodeNotification("notifications/subscriptions/acknowledged", map[string]any{
		"notifications": agreed,
		"_meta":         map[string]json.RawMessage{metaSubscriptionID: l.id},
	})
	if err != nil {
		return nil, err
	}
	s.sessMu.Lock()
	s.listeners[l] = struct{}{}
	s.sessMu.Unlock()
	defer func() {
		s.sessMu.Lock()
		delete(s.listeners, l)
		s.sessMu.Unlock()
	}()
	if err := l.out.write(ack); err != nil {
		return nil, errNoResponse
	}
	<-ctx.Done()
	return nil, errNoResponse
}

// notifyListeners sends a notification to the listen streams that asked for
// it; uri is set for notifications/resources/updated.
func (s *Server) notifyListeners(method, uri string) {
	s.sessMu.Lock()
	var targets []*listener
	for l := range s.listeners {
		f := l.filter
		var ok bool
		switch method {
		case "notifications/tools/list_changed":
			ok = f.ToolsListChanged
		case "notifications/prompts/list_changed":
			ok = f.PromptsListChanged
		case "notifications/resources/list_changed":
			ok = f.ResourcesListChanged
		case "notifications/resources/updated":
			ok = slices.Contains(f.ResourceSubscriptions, uri)
		}
		if ok {
			targets = append(targets, l)
		}
	}
	s.sessMu.Unlock()
	for _, l := range targets {
		params := map[string]any{"_meta": map[string]json.RawMessage{metaSubscriptionID: l.id}}
		if uri != "" {
			params["uri"] = uri
		}
		if b, err := encodeNotification(method, params); err == nil {
			go l.out.write(b)
		}
	}
}
