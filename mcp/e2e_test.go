package mcp

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestGoSDKClient connects the official go-sdk client over stdio pipes and
// over HTTP, with its default protocol (2026-07-28 via server/discover) and
// with the handshake revisions.
func TestGoSDKClient(t *testing.T) {
	for _, transport := range []string{"stdio", "http"} {
		for _, version := range []string{"", "2025-11-25", "2025-06-18", "2025-03-26"} {
			name := transport + "/" + version
			if version == "" {
				name = transport + "/default"
			}
			t.Run(name, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				s := testServer(t)
				var tr sdk.Transport
				switch transport {
				case "stdio":
					cr, sw := io.Pipe()
					sr, cw := io.Pipe()
					done := make(chan error, 1)
					go func() { done <- s.ServeStdio(ctx, sr, sw); sw.Close() }()
					t.Cleanup(func() {
						cw.Close()
						if err := <-done; err != nil && err != context.Canceled {
							t.Errorf("ServeStdio: %v", err)
						}
					})
					tr = &sdk.IOTransport{Reader: cr, Writer: cw}
				case "http":
					ts, _ := startHTTP(t, s, &HTTPOptions{JSONResponse: true})
					tr = &sdk.StreamableClientTransport{Endpoint: ts.URL, MaxRetries: -1}
				}
				var progress atomic.Int32
				client := sdk.NewClient(&sdk.Implementation{Name: "e2e", Version: "1"}, &sdk.ClientOptions{
					ProgressNotificationHandler: func(context.Context, *sdk.ProgressNotificationClientRequest) { progress.Add(1) },
					CreateMessageHandler: func(ctx context.Context, r *sdk.CreateMessageRequest) (*sdk.CreateMessageResult, error) {
						return &sdk.CreateMessageResult{Model: "m", Role: "assistant", Content: &sdk.TextContent{Text: "sampled"}}, nil
					},
					ElicitationHandler: func(ctx context.Context, r *sdk.ElicitRequest) (*sdk.ElicitResult, error) {
						return &sdk.ElicitResult{Action: "accept", Content: map[string]any{"x": 1}}, nil
					},
				})
				cs, err := client.Connect(ctx, tr, &sdk.ClientSessionOptions{ProtocolVersion: version})
				if err != nil {
					t.Fatalf("connect: %v", err)
				}
				defer cs.Close()

				var names []string
				for tool, err := range cs.Tools(ctx, nil) {
					if err != nil {
						t.Fatalf("listing tools: %v", err)
					}
					names = append(names, tool.Name)
				}
				if got := strings.Join(names, " "); got != "echo slow progress logs panics fails sample" {
					t.Errorf("tools: got %s", got)
				}
				res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "héllo"}})
				if err != nil {
					t.Fatalf("call: %v", err)
				}
				if res.IsError || len(res.Content) != 1 || res.Content[0].(*sdk.TextContent).Text != "héllo" {
					t.Errorf("echo: got %+v", res)
				}
				res, err = cs.CallTool(ctx, &sdk.CallToolParams{Name: "echo", Arguments: map[string]any{}})
				if err != nil || !res.IsError {
					t.Errorf("invalid args: got %+v, %v; want an isError result", res, err)
				}
				params := &sdk.CallToolParams{Name: "progress"}
				params.SetProgressToken("p1")
				if _, err := cs.CallTool(ctx, params); err != nil {
					t.Fatalf("progress: %v", err)
				}
				if version != "" {
					// The SDK hands notifications to its handler asynchronously,
					// so wait for them (a hang guard, not a timing assertion).
					deadline := time.Now().Add(5 * time.Second)
					for progress.Load() < 3 && time.Now().Before(deadline) {
						time.Sleep(time.Millisecond)
					}
					if got := progress.Load(); got != 3 {
						t.Errorf("progress notifications: got %d, want 3", got)
					}
					if err := cs.Ping(ctx, nil); err != nil {
						t.Errorf("ping: %v", err)
					}
				}
				// Sampling and elicitation: server requests on the handshake
				// revisions, input-required rounds on 2026-07-28.
				res, err = cs.CallTool(ctx, &sdk.CallToolParams{Name: "sample"})
				if err != nil || res.IsError || len(res.Content) == 0 || !strings.Contains(res.Content[0].(*sdk.TextContent).Text, "sampled") {
					t.Errorf("sampling: got %+v, %v", res, err)
				}
				pr, err := cs.GetPrompt(ctx, &sdk.GetPromptParams{Name: "greet", Arguments: map[string]string{"who": "ann"}})
				if err != nil || pr.Messages[0].Content.(*sdk.TextContent).Text != "hi ann" {
					t.Errorf("prompt: got %+v, %v", pr, err)
				}
				rr, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "test://t/7/data"})
				if err != nil || rr.Contents[0].Text != "T" {
					t.Errorf("resource: got %+v, %v", rr, err)
				}
			})
		}
	}
}
