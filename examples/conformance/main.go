// Command conformance is the fixture server for the MCP conformance suite
// (npm @modelcontextprotocol/conformance): it registers the suite's test_*
// tools, resources, resource templates and prompts on package mcp and serves
// them over Streamable HTTP at /mcp.
//
//	go run ./examples/conformance --http 127.0.0.1:3001
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sibylmcp/sibyl/mcp"
)

// A 1x1 red PNG and a minimal WAV, as the suite's reference server uses.
const (
	testImage = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
	testAudio = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="
)

var noArgs = json.RawMessage(`{"type":"object","properties":{}}`)

func main() {
	addr := flag.String("http", "127.0.0.1:3001", "listen address")
	sse := flag.Bool("sse", false, "answer every request with an SSE stream instead of JSON when possible")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(*addr, !*sse, log); err != nil {
		log.Error("conformance server", "err", err)
		os.Exit(1)
	}
}

func run(addr string, jsonResponse bool, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv := newServer(log)
	h := mcp.NewHTTPHandler(srv, &mcp.HTTPOptions{JSONResponse: jsonResponse})
	mux := http.NewServeMux()
	mux.Handle("/mcp", h)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("serving", "url", "http://"+ln.Addr().String()+"/mcp")
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.Shutdown(sctx)
	return hs.Shutdown(sctx)
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent(s)}}
}

func constTool(name, desc string, content ...mcp.Content) (mcp.Tool, mcp.ToolHandler) {
	return mcp.Tool{Name: name, Description: desc, InputSchema: noArgs},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: content}, nil
		}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func newServer(log *slog.Logger) *mcp.Server {
	s := mcp.NewServer(mcp.Implementation{Name: "sibyl-conformance", Version: "1.0.0"}, &mcp.ServerOptions{Logger: log})

	s.AddTool(constTool("test_simple_text", "Tests simple text content response",
		mcp.TextContent("This is a simple text response for testing.")))
	s.AddTool(constTool("test_image_content", "Tests image content response",
		mcp.Content{Type: "image", Data: testImage, MimeType: "image/png"}))
	s.AddTool(constTool("test_audio_content", "Tests audio content response",
		mcp.Content{Type: "audio", Data: testAudio, MimeType: "audio/wav"}))
	s.AddTool(constTool("test_embedded_resource", "Tests embedded resource content response",
		mcp.Content{Type: "resource", Resource: &mcp.ResourceContents{URI: "test://embedded-resource", MimeType: "text/plain", Text: "This is an embedded resource content."}}))
	s.AddTool(constTool("test_multiple_content_types", "Tests response with multiple content types (text, image, resource)",
		mcp.TextContent("Multiple content types test:"),
		mcp.Content{Type: "image", Data: testImage, MimeType: "image/png"},
		mcp.Content{Type: "resource", Resource: &mcp.ResourceContents{URI: "test://mixed-content-resource", MimeType: "application/json", Text: `{"test":"data","value":123}`}}))

	s.AddTool(mcp.Tool{Name: "test_tool_with_logging", Description: "Tests tool that emits log messages during execution", InputSchema: noArgs},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			for i, m := range []string{"Tool execution started", "Tool processing data", "Tool execution completed"} {
				if i > 0 {
					if err := sleep(ctx, 50*time.Millisecond); err != nil {
						return nil, err
					}
				}
				req.Session.Log(ctx, "info", "conformance-test-server", m)
			}
			return text("Tool with logging executed successfully"), nil
		})

	s.AddTool(mcp.Tool{Name: "test_tool_with_progress", Description: "Tests tool that reports progress notifications", InputSchema: noArgs},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			for i, p := range []float64{0, 50, 100} {
				if i > 0 {
					if err := sleep(ctx, 50*time.Millisecond); err != nil {
						return nil, err
					}
				}
				req.Progress(ctx, p, 100, fmt.Sprintf("Completed step %v of 100", p))
			}
			tok := "none"
			if raw, ok := req.ProgressToken.(json.RawMessage); ok {
				tok = string(raw)
			}
			return text(tok), nil
		})

	s.AddTool(mcp.Tool{Name: "test_error_handling", Description: "Tests error response handling", InputSchema: noArgs},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return nil, errors.New("This tool intentionally returns an error for testing")
		})

	s.AddTool(mcp.Tool{Name: "test_reconnection", Description: "Tests SSE stream disconnection and client reconnection (SEP-1699)", InputSchema: noArgs},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return nil, err
			}
			return text("Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure."), nil
		})

	s.AddTool(mcp.Tool{Name: "test_sampling", Description: "Tests server-initiated sampling (LLM completion request)",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"prompt":{"type":"string","description":"The prompt to send to the LLM"}},"required":["prompt"]}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var in struct {
				Prompt string `json:"prompt"`
			}
			if err := json.Unmarshal(req.Arguments, &in); err != nil {
				return nil, err
			}
			params, _ := json.Marshal(map[string]any{
				"messages":  []any{map[string]any{"role": "user", "content": map[string]string{"type": "text", "text": in.Prompt}}},
				"maxTokens": 100,
			})
			res, err := req.Session.CreateMessage(ctx, params)
			if err != nil {
				return text("Sampling not supported or error: " + err.Error()), nil
			}
			var out struct {
				Content struct {
					Text string `json:"text"`
				} `json:"content"`
			}
			json.Unmarshal(res, &out)
			if out.Content.Text == "" {
				out.Content.Text = "No response"
			}
			return text("LLM response: " + out.Content.Text), nil
		})

	elicitTool := func(name, desc string, schema json.RawMessage, prefix string, message func(args json.RawMessage) string) {
		s.AddTool(mcp.Tool{Name: name, Description: desc, InputSchema: schema},
			func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				params, _ := json.Marshal(map[string]any{"mode": "form", "message": message(req.Arguments), "requestedSchema": elicitSchemas[name]})
				res, err := req.Session.Elicit(ctx, params)
				if err != nil {
					return text("Elicitation not supported or error: " + err.Error()), nil
				}
				var out struct {
					Action  string          `json:"action"`
					Content json.RawMessage `json:"content"`
				}
				json.Unmarshal(res, &out)
				if len(out.Content) == 0 {
					out.Content = json.RawMessage("{}")
				}
				return text(fmt.Sprintf("%saction=%s, content=%s", prefix, out.Action, out.Content)), nil
			})
	}
	elicitTool("test_elicitation", "Tests server-initiated elicitation (user input request)",
		json.RawMessage(`{"type":"object","properties":{"message":{"type":"string","description":"The message to show the user"}},"required":["message"]}`),
		"User response: ", func(args json.RawMessage) string {
			var in struct {
				Message string `json:"message"`
			}
			json.Unmarshal(args, &in)
			return in.Message
		})
	elicitTool("test_elicitation_sep1034_defaults", "Tests elicitation with default values per SEP-1034", noArgs,
		"Elicitation completed: ", func(json.RawMessage) string { return "Please review and update the form fields with defaults" })
	elicitTool("test_elicitation_sep1330_enums", "Tests elicitation with enum schema improvements per SEP-1330", noArgs,
		"Elicitation completed: ", func(json.RawMessage) string { return "Please select options from the enum fields" })

	s.AddTool(mcp.Tool{Name: "json_schema_2020_12_tool", Description: "Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)",
		InputSchema: json.RawMessage(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
			"$defs":{"address":{"$anchor":"addressDef","type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"}}}},
			"properties":{"name":{"type":"string"},"address":{"$ref":"#/$defs/address"},"contactMethod":{"type":"string","enum":["phone","email"]},"phone":{"type":"string"},"email":{"type":"string"}},
			"allOf":[{"anyOf":[{"required":["phone"]},{"required":["email"]}]}],
			"if":{"properties":{"contactMethod":{"const":"phone"}},"required":["contactMethod"]},"then":{"required":["phone"]},"else":{"required":["email"]},
			"additionalProperties":false}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return text("JSON Schema 2020-12 tool called with: " + string(req.Arguments)), nil
		})

	// Resources.
	static := func(r mcp.Resource, c mcp.ResourceContents) {
		s.AddResource(r, func(ctx context.Context, uri string, _ *mcp.Session) ([]mcp.ResourceContents, error) {
			return []mcp.ResourceContents{c}, nil
		})
	}
	static(mcp.Resource{URI: "test://static-text", Name: "static-text", Title: "Static Text Resource", Description: "A static text resource for testing", MimeType: "text/plain"},
		mcp.ResourceContents{URI: "test://static-text", MimeType: "text/plain", Text: "This is the content of the static text resource."})
	static(mcp.Resource{URI: "test://static-binary", Name: "static-binary", Title: "Static Binary Resource", Description: "A static binary resource (image) for testing", MimeType: "image/png"},
		mcp.ResourceContents{URI: "test://static-binary", MimeType: "image/png", Blob: testImage})
	static(mcp.Resource{URI: "test://watched-resource", Name: "watched-resource", Title: "Watched Resource", Description: "A resource that auto-updates every 3 seconds", MimeType: "text/plain"},
		mcp.ResourceContents{URI: "test://watched-resource", MimeType: "text/plain", Text: "Watched resource content"})
	s.AddResourceTemplate(mcp.ResourceTemplate{URITemplate: "test://template/{id}/data", Name: "template", Title: "Resource Template", Description: "A resource template with parameter substitution", MimeType: "application/json"},
		func(ctx context.Context, uri string, _ *mcp.Session) ([]mcp.ResourceContents, error) {
			id := strings.TrimSuffix(strings.TrimPrefix(uri, "test://template/"), "/data")
			body, _ := json.Marshal(map[string]any{"id": id, "templateTest": true, "data": "Data for ID: " + id})
			return []mcp.ResourceContents{{URI: uri, MimeType: "application/json", Text: string(body)}}, nil
		})

	// Prompts.
	s.AddPrompt(mcp.Prompt{Name: "test_simple_prompt", Title: "Simple Test Prompt", Description: "A simple prompt without arguments"},
		func(ctx context.Context, args map[string]string, _ *mcp.Session) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{{Role: "user", Content: mcp.TextContent("This is a simple prompt for testing.")}}}, nil
		})
	s.AddPrompt(mcp.Prompt{Name: "test_prompt_with_arguments", Title: "Prompt With Arguments", Description: "A prompt with required arguments",
		Arguments: []mcp.PromptArgument{{Name: "arg1", Description: "First test argument", Required: true}, {Name: "arg2", Description: "Second test argument", Required: true}}},
		func(ctx context.Context, args map[string]string, _ *mcp.Session) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{{Role: "user", Content: mcp.TextContent(fmt.Sprintf("Prompt with arguments: arg1='%s', arg2='%s'", args["arg1"], args["arg2"]))}}}, nil
		})
	s.AddPrompt(mcp.Prompt{Name: "test_prompt_with_embedded_resource", Title: "Prompt With Embedded Resource", Description: "A prompt that includes an embedded resource",
		Arguments: []mcp.PromptArgument{{Name: "resourceUri", Description: "URI of the resource to embed", Required: true}}},
		func(ctx context.Context, args map[string]string, _ *mcp.Session) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{
				{Role: "user", Content: mcp.Content{Type: "resource", Resource: &mcp.ResourceContents{URI: args["resourceUri"], MimeType: "text/plain", Text: "Embedded resource content for testing."}}},
				{Role: "user", Content: mcp.TextContent("Please process the embedded resource above.")},
			}}, nil
		})
	s.AddPrompt(mcp.Prompt{Name: "test_prompt_with_image", Title: "Prompt With Image", Description: "A prompt that includes image content"},
		func(ctx context.Context, args map[string]string, _ *mcp.Session) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{
				{Role: "user", Content: mcp.Content{Type: "image", Data: testImage, MimeType: "image/png"}},
				{Role: "user", Content: mcp.TextContent("Please analyze the image above.")},
			}}, nil
		})

	add2026(s)

	s.SetCompletionHandler(func(ctx context.Context, ref mcp.CompletionRef, name, value string, _ map[string]string) ([]string, error) {
		return []string{}, nil
	})
	return s
}

var elicitSchemas = map[string]json.RawMessage{
	"test_elicitation": json.RawMessage(`{"type":"object","properties":{"response":{"type":"string","description":"User's response"}},"required":["response"]}`),
	"test_elicitation_sep1034_defaults": json.RawMessage(`{"type":"object","properties":{
		"name":{"type":"string","description":"User name","default":"John Doe"},
		"age":{"type":"integer","description":"User age","default":30},
		"score":{"type":"number","description":"User score","default":95.5},
		"status":{"type":"string","description":"User status","enum":["active","inactive","pending"],"default":"active"},
		"verified":{"type":"boolean","description":"Verification status","default":true}},"required":[]}`),
	"test_elicitation_sep1330_enums": json.RawMessage(`{"type":"object","properties":{
		"untitledSingle":{"type":"string","description":"Select one option","enum":["option1","option2","option3"]},
		"titledSingle":{"type":"string","description":"Select one option with titles","oneOf":[{"const":"value1","title":"First Option"},{"const":"value2","title":"Second Option"},{"const":"value3","title":"Third Option"}]},
		"legacyEnum":{"type":"string","description":"Select one option (legacy)","enum":["opt1","opt2","opt3"],"enumNames":["Option One","Option Two","Option Three"]},
		"untitledMulti":{"type":"array","description":"Select multiple options","minItems":1,"maxItems":3,"items":{"type":"string","enum":["option1","option2","option3"]}},
		"titledMulti":{"type":"array","description":"Select multiple options with titles","minItems":1,"maxItems":3,"items":{"anyOf":[{"const":"value1","title":"First Choice"},{"const":"value2","title":"Second Choice"},{"const":"value3","title":"Third Choice"}]}}},"required":[]}`),
}

// add2026 registers the diagnostic tools of the 2026-07-28 scenarios
// (server-stateless and input-required-result-*, conformance 0.2.0-alpha).
func add2026(s *mcp.Server) {
	s.AddTool(mcp.Tool{Name: "test_missing_capability", Description: "Needs the sampling capability: a client that did not declare it gets -32021", InputSchema: noArgs},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := req.Session.CreateMessage(ctx, json.RawMessage(`{"messages":[{"role":"user","content":{"type":"text","text":"hi"}}],"maxTokens":10}`))
			if err != nil {
				return nil, err
			}
			return text("sampled: " + string(res)), nil
		})
	s.AddTool(mcp.Tool{Name: "test_streaming_elicitation", Description: "Asks the client for input during the call", InputSchema: noArgs},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := req.Session.Elicit(ctx, json.RawMessage(`{"mode":"form","message":"Your name?","requestedSchema":{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}}`))
			if err != nil {
				return nil, err
			}
			return text("elicited: " + string(res)), nil
		})
	s.AddTool(mcp.Tool{Name: "test_logging_tool", Description: "Logs at every level during the call", InputSchema: noArgs},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			for _, l := range []string{"debug", "info", "warning", "error"} {
				req.Session.Log(ctx, l, "conformance-test-server", "log at "+l)
			}
			return text("logged"), nil
		})
	dynamicTool := mcp.Tool{Name: "test_dynamic_tool", Description: "Appears and disappears with test_trigger_tool_change", InputSchema: noArgs}
	s.AddTool(mcp.Tool{Name: "test_trigger_tool_change", Description: "Adds or removes test_dynamic_tool", InputSchema: noArgs},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if !s.RemoveTool(dynamicTool.Name) {
				s.AddTool(dynamicTool, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return text("dynamic"), nil })
			}
			return text("tool list changed"), nil
		})
	dynamicPrompt := mcp.Prompt{Name: "test_dynamic_prompt", Description: "Appears and disappears with test_trigger_prompt_change"}
	s.AddTool(mcp.Tool{Name: "test_trigger_prompt_change", Description: "Adds or removes test_dynamic_prompt", InputSchema: noArgs},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if !s.RemovePrompt(dynamicPrompt.Name) {
				s.AddPrompt(dynamicPrompt, func(context.Context, map[string]string, *mcp.Session) (*mcp.GetPromptResult, error) {
					return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{{Role: "user", Content: mcp.TextContent("dynamic")}}}, nil
				})
			}
			return text("prompt list changed"), nil
		})

	askName := mcp.InputRequest{Method: "elicitation/create", Params: json.RawMessage(`{"message":"What is your name?","requestedSchema":{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}}`)}
	askCapital := mcp.InputRequest{Method: "sampling/createMessage", Params: json.RawMessage(`{"messages":[{"role":"user","content":{"type":"text","text":"What is the capital of France?"}}],"maxTokens":100}`)}
	askGreeting := mcp.InputRequest{Method: "sampling/createMessage", Params: json.RawMessage(`{"messages":[{"role":"user","content":{"type":"text","text":"Generate a greeting"}}],"maxTokens":50}`)}
	askRoots := mcp.InputRequest{Method: "roots/list", Params: json.RawMessage(`{}`)}
	askConfirm := mcp.InputRequest{Method: "elicitation/create", Params: json.RawMessage(`{"message":"Please confirm","requestedSchema":{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}}`)}
	field := func(raw json.RawMessage, path ...string) string {
		var v any
		json.Unmarshal(raw, &v)
		for _, p := range path {
			m, _ := v.(map[string]any)
			v = m[p]
		}
		if s, ok := v.(string); ok {
			return s
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	inputTool := func(name, desc string, run func(ctx context.Context, sess *mcp.Session) (string, error)) {
		s.AddTool(mcp.Tool{Name: name, Description: desc, InputSchema: noArgs},
			func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				out, err := run(ctx, req.Session)
				if err != nil {
					return nil, err
				}
				return text(out), nil
			})
	}
	inputTool("test_input_required_result_elicitation", "Asks for the user's name (SEP-2322)", func(ctx context.Context, sess *mcp.Session) (string, error) {
		a, err := sess.Inputs(ctx, map[string]mcp.InputRequest{"user_name": askName})
		if err != nil {
			return "", err
		}
		return "Hello, " + field(a["user_name"], "content", "name") + "!", nil
	})
	inputTool("test_input_required_result_sampling", "Asks the client's model a question (SEP-2322)", func(ctx context.Context, sess *mcp.Session) (string, error) {
		a, err := sess.Inputs(ctx, map[string]mcp.InputRequest{"capital_question": askCapital})
		if err != nil {
			return "", err
		}
		return "Model says: " + field(a["capital_question"], "content", "text"), nil
	})
	inputTool("test_input_required_result_list_roots", "Asks for the client's roots (SEP-2322)", func(ctx context.Context, sess *mcp.Session) (string, error) {
		a, err := sess.Inputs(ctx, map[string]mcp.InputRequest{"client_roots": askRoots})
		if err != nil {
			return "", err
		}
		return "Client roots: " + field(a["client_roots"], "roots"), nil
	})
	stateTool := func(name string) {
		inputTool(name, "Round trip with a signed requestState (SEP-2322)", func(ctx context.Context, sess *mcp.Session) (string, error) {
			prev := sess.RequestState(ctx)
			sess.SetRequestState(ctx, "awaiting-confirm")
			a, err := sess.Inputs(ctx, map[string]mcp.InputRequest{"confirm": askConfirm})
			if err != nil {
				return "", err
			}
			if prev != "awaiting-confirm" {
				return "", &mcp.Error{Code: mcp.CodeInvalidParams, Message: "invalid params: requestState missing"}
			}
			return "state-ok: confirmed " + field(a["confirm"], "content", "ok"), nil
		})
	}
	stateTool("test_input_required_result_request_state")
	stateTool("test_input_required_result_tampered_state")
	inputTool("test_input_required_result_multiple_inputs", "Asks for three inputs at once (SEP-2322)", func(ctx context.Context, sess *mcp.Session) (string, error) {
		a, err := sess.Inputs(ctx, map[string]mcp.InputRequest{"user_name": askName, "greeting": askGreeting, "client_roots": askRoots})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("name=%s greeting=%s roots=%s", field(a["user_name"], "content", "name"), field(a["greeting"], "content", "text"), field(a["client_roots"], "roots")), nil
	})
	inputTool("test_input_required_result_multi_round", "Asks in two rounds (SEP-2322)", func(ctx context.Context, sess *mcp.Session) (string, error) {
		a1, err := sess.Inputs(ctx, map[string]mcp.InputRequest{"step1": {Method: "elicitation/create", Params: json.RawMessage(`{"message":"Step 1: What is your name?","requestedSchema":{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}}`)}})
		if err != nil {
			return "", err
		}
		a2, err := sess.Inputs(ctx, map[string]mcp.InputRequest{"step2": {Method: "elicitation/create", Params: json.RawMessage(`{"message":"Step 2: What is your favorite color?","requestedSchema":{"type":"object","properties":{"color":{"type":"string"}},"required":["color"]}}`)}})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("name=%s color=%s", field(a1["step1"], "content", "name"), field(a2["step2"], "content", "color")), nil
	})
	inputTool("test_input_required_result_capabilities", "Asks only for what the client supports (SEP-2322)", func(ctx context.Context, sess *mcp.Session) (string, error) {
		var caps map[string]json.RawMessage
		json.Unmarshal(sess.ClientCapabilities(), &caps)
		reqs := map[string]mcp.InputRequest{}
		if _, ok := caps["sampling"]; ok {
			reqs["capital_question"] = askCapital
		}
		if _, ok := caps["elicitation"]; ok {
			reqs["user_name"] = askName
		}
		if len(reqs) == 0 {
			return "no inputs available from this client", nil
		}
		a, err := sess.Inputs(ctx, reqs)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("got %d inputs", len(a)), nil
	})
	s.AddPrompt(mcp.Prompt{Name: "test_input_required_result_prompt", Description: "A prompt that asks the user for context (SEP-2322)"},
		func(ctx context.Context, args map[string]string, sess *mcp.Session) (*mcp.GetPromptResult, error) {
			a, err := sess.Inputs(ctx, map[string]mcp.InputRequest{"user_context": {Method: "elicitation/create", Params: json.RawMessage(`{"message":"What context should the prompt use?","requestedSchema":{"type":"object","properties":{"context":{"type":"string"}},"required":["context"]}}`)}})
			if err != nil {
				return nil, err
			}
			return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{{Role: "user", Content: mcp.TextContent("Use this context: " + field(a["user_context"], "content", "context"))}}}, nil
		})
}
