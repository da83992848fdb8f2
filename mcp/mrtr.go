package mcp

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// InputRequest is a request the server needs the client to answer before it
// can finish: elicitation/create, sampling/createMessage or roots/list.
type InputRequest struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params,omitempty"`
}

// ErrInputRequired is returned by Session.Inputs (and CreateMessage, Elicit,
// Request) on a 2026-07-28 request whose answers the client has not sent yet.
// A handler must return it unchanged: the server then answers with an
// InputRequiredResult (resultType "input_required") listing the inputs, and
// the client calls again with their answers, when the handler runs anew and
// gets them. Handlers must therefore be safe to run more than once.
var ErrInputRequired = errors.New("mcp: input required from the client")

// capabilityFor names the client capability a client method needs.
func capabilityFor(method string) string {
	switch method {
	case "sampling/createMessage":
		return "sampling"
	case "elicitation/create":
		return "elicitation"
	case "roots/list":
		return "roots"
	}
	return ""
}

func missingCapability(capName string) *Error {
	return &Error{
		Code:    CodeMissingClientCapability,
		Message: "missing required client capability: " + capName,
		Data:    map[string]any{"requiredCapabilities": map[string]any{capName: struct{}{}}},
	}
}

// mrtrState is the server side of a multi-round-trip request (2026-07-28):
// the answers received so far and the handler's own state, carried between
// rounds in the signed requestState.
type mrtrState struct {
	Answers map[string]json.RawMessage `json:"a,omitempty"`
	User    string                     `json:"u,omitempty"`
	Name    string                     `json:"n"` // method and name/uri the state belongs to
}

// Inputs asks the client for every input in reqs and returns the answers by
// key. On the handshake revisions it sends each as a request over the
// session's stream and waits. On 2026-07-28 it returns the answers the client
// sent with this request (or earlier rounds); when some are missing it returns
// ErrInputRequired, which the handler must return. A client that did not
// declare the capability an input needs gets a -32021 *Error.
func (s *Session) Inputs(ctx context.Context, reqs map[string]InputRequest) (map[string]json.RawMessage, error) {
	rc := reqFromContext(ctx)
	s.mu.Lock()
	stateless := s.stateless
	s.mu.Unlock()
	if !stateless || rc == nil {
		out := make(map[string]json.RawMessage, len(reqs))
		for k, r := range reqs {
			res, err := s.request(ctx, capabilityFor(r.Method), r.Method, r.Params)
			if err != nil {
				return nil, err
			}
			out[k] = res
		}
		return out, nil
	}
	for _, r := range reqs {
		if c := capabilityFor(r.Method); c != "" && !s.hasClientCap(c) {
			return nil, missingCapability(c)
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string]json.RawMessage, len(reqs))
	missing := false
	for k, r := range reqs {
		if a, ok := rc.answers[k]; ok {
			out[k] = a
			continue
		}
		missing = true
		if rc.inputs == nil {
			rc.inputs = map[string]InputRequest{}
		}
		rc.inputs[k] = r
	}
	if missing {
		return nil, ErrInputRequired
	}
	return out, nil
}

// statelessInput asks for one input with an automatic key, for CreateMessage,
// Elicit and Request on a 2026-07-28 request.
func (s *Session) statelessInput(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	rc := reqFromContext(ctx)
	if rc == nil {
		return nil, errors.New("mcp: " + method + " needs the context of a request on a stateless (2026-07-28) session")
	}
	rc.mu.Lock()
	rc.autoKey++
	key := strings.ReplaceAll(method, "/", "_") + "_" + strconv.Itoa(rc.autoKey)
	rc.mu.Unlock()
	if len(params) == 0 {
		params = json.RawMessage("{}")
	}
	res, err := s.Inputs(ctx, map[string]InputRequest{key: {Method: method, Params: params}})
	if err != nil {
		return nil, err
	}
	return res[key], nil
}

// RequestState returns the state the handler set with SetRequestState in the
// previous round of this multi-round-trip request ("" in the first round or
// outside 2026-07-28). The server verified it has not been tampered with.
func (s *Session) RequestState(ctx context.Context) string {
	if rc := reqFromContext(ctx); rc != nil {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return rc.userState
	}
	return ""
}

// SetRequestState sets the state sent to the client with the next
// InputRequiredResult of this request; the client echoes it in the next round.
// It is signed, so clients cannot forge it, but not encrypted: keep secrets out.
func (s *Session) SetRequestState(ctx context.Context, state string) {
	if rc := reqFromContext(ctx); rc != nil {
		rc.mu.Lock()
		rc.userState = state
		rc.mu.Unlock()
	}
}

func (s *Server) stateKey() []byte {
	s.keyOnce.Do(func() {
		if len(s.opts.StateKey) > 0 {
			s.key = s.opts.StateKey
			return
		}
		s.key = make([]byte, 32)
		rand.Read(s.key)
	})
	return s.key
}

func (s *Server) signState(st *mrtrState) string {
	b, _ := json.Marshal(st)
	m := hmac.New(sha256.New, s.stateKey())
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) verifyState(tok, name string) (*mrtrState, error) {
	bad := invalidParams("requestState failed its integrity check; start the request again without it")
	payload, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return nil, bad
	}
	b, err1 := base64.RawURLEncoding.DecodeString(payload)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return nil, bad
	}
	m := hmac.New(sha256.New, s.stateKey())
	m.Write(b)
	if !hmac.Equal(got, m.Sum(nil)) {
		return nil, bad
	}
	var st mrtrState
	if json.Unmarshal(b, &st) != nil || st.Name != name {
		return nil, bad
	}
	return &st, nil
}

// beginRounds loads the answers and state of a 2026-07-28 request into rc.
func (s *Server) beginRounds(rc *reqCtx, p *reqParams, name string) error {
	rc.roundName = name
	if p.RequestState != "" {
		st, err := s.verifyState(p.RequestState, name)
		if err != nil {
			return err
		}
		rc.answers = st.Answers
		rc.userState = st.User
	}
	if len(p.InputResponses) > 0 {
		if rc.answers == nil {
			rc.answers = map[string]json.RawMessage{}
		}
		for k, v := range p.InputResponses {
			rc.answers[k] = v
		}
	}
	return nil
}

// inputRequired builds the InputRequiredResult for the inputs a handler asked for.
func (s *Server) inputRequired(rc *reqCtx) any {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	st := &mrtrState{Answers: rc.answers, User: rc.userState, Name: rc.roundName}
	return map[string]any{
		"resultType":    "input_required",
		"inputRequests": rc.inputs,
		"requestState":  s.signState(st),
	}
}
