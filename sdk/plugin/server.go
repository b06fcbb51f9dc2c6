package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/weftworks/weft/sdk"
	"github.com/weftworks/weft/sdk/plugin/pb"
)

// Server serves components over the plugin protocol. Serve runs one in a
// plugin process; tests can serve one in-process (see package plugintest).
type Server struct {
	pb.UnimplementedPluginServer
	components map[sdk.Kind]map[string]sdk.Component
	infos      []sdk.Info
	// abandoned counts calls running although their context is done.
	abandoned atomic.Int64
}

var _ pb.PluginServer = (*Server)(nil)

// NewServer checks the components (each must implement the interface of its
// kind, names unique per kind) and returns a server for them.
func NewServer(cs ...sdk.Component) (*Server, error) {
	s := &Server{components: map[sdk.Kind]map[string]sdk.Component{}}
	if len(cs) == 0 {
		return nil, fmt.Errorf("plugin: no components to serve")
	}
	for _, c := range cs {
		info := c.Info()
		if err := sdk.CheckComponent(info); err != nil {
			return nil, fmt.Errorf("plugin: %w", err)
		}
		if s.components[info.Kind] == nil {
			s.components[info.Kind] = map[string]sdk.Component{}
		}
		if _, dup := s.components[info.Kind][info.Name]; dup {
			return nil, fmt.Errorf("plugin: %s %q served twice", info.Kind, info.Name)
		}
		s.components[info.Kind][info.Name] = c
		s.infos = append(s.infos, info)
	}
	return s, nil
}

// Describe implements pb.PluginServer.
func (s *Server) Describe(context.Context, *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	resp := &pb.DescribeResponse{SdkVersion: SDKVersion()}
	resp.Module, resp.Version = buildModule()
	for _, info := range s.infos {
		_, checks := info.New().(sdk.ConfigChecker)
		resp.Components = append(resp.Components, &pb.Component{Kind: string(info.Kind), Name: info.Name,
			Version: info.Version, Summary: info.Summary, ConfigSchema: info.ConfigSchema, ChecksConfig: checks})
	}
	return resp, nil
}

// CheckConfig implements pb.PluginServer.
func (s *Server) CheckConfig(_ context.Context, req *pb.CheckConfigRequest) (resp *pb.CheckConfigResponse, _ error) {
	resp = &pb.CheckConfigResponse{}
	defer recoverInto(&resp.Error, req.Kind, req.Name)
	c, err := s.lookup(req.Kind, req.Name)
	if err != nil {
		resp.Error = errorToWire(err)
		return resp, nil
	}
	ck, ok := c.Info().New().(sdk.ConfigChecker)
	if !ok {
		return resp, nil
	}
	cfg, err := decodeJSON(req.ConfigJson, "config")
	if err == nil {
		err = ck.CheckConfig(cfg)
	}
	resp.Error = errorToWire(err)
	return resp, nil
}

// Call implements pb.PluginServer. A component that panics fails its call
// with INTERNAL and the stack in the plugin's log; the plugin keeps serving.
func (s *Server) Call(ctx context.Context, req *pb.CallRequest) (resp *pb.CallResponse, _ error) {
	resp = &pb.CallResponse{}
	stop := context.AfterFunc(ctx, func() { s.abandoned.Add(1) })
	defer func() {
		if !stop() { // the context ended while the component ran
			s.abandoned.Add(-1)
		}
	}()
	defer recoverInto(&resp.Error, req.Kind, req.Name)
	if dl, ok := ctx.Deadline(); ok {
		// The host cancels the stream when its own deadline fires, which can
		// beat gRPC's deadline here: the component's context ends with the
		// deadline's own error, and contexts derived from it too.
		dctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), dl)
		defer cancel()
		stopCancel := context.AfterFunc(ctx, func() {
			if time.Now().Before(dl) {
				cancel()
			}
		})
		defer stopCancel()
		ctx = dctx
	}
	out, err := s.call(ctx, req)
	if err != nil {
		resp.Error = errorToWire(err)
		return resp, nil
	}
	if resp.OutputJson, err = json.Marshal(out); err != nil {
		resp.Error = errorToWire(sdk.Errorf(sdk.CodeInternal, "%s %q: encode output: %v", req.Kind, req.Name, err))
	}
	return resp, nil
}

// Health implements pb.PluginServer.
func (s *Server) Health(context.Context, *pb.HealthRequest) (*pb.HealthResponse, error) {
	return &pb.HealthResponse{AbandonedCalls: uint32(max(s.abandoned.Load(), 0))}, nil
}

func (s *Server) call(ctx context.Context, req *pb.CallRequest) (any, error) {
	c, err := s.lookup(req.Kind, req.Name)
	if err != nil {
		return nil, err
	}
	in, err := decodeJSON(req.InputJson, "input")
	if err != nil {
		return nil, err
	}
	inst := c.Info().New()
	if len(req.ConfigJson) > 0 && string(req.ConfigJson) != "null" {
		if err := json.Unmarshal(req.ConfigJson, inst); err != nil {
			return nil, sdk.Errorf(sdk.CodeInvalidConfig, "%s %q: config: %v", req.Kind, req.Name, err)
		}
	}
	switch t := inst.(type) {
	case sdk.Step:
		o, err := t.Run(ctx, sdk.Input{Config: in, Run: runFromWire(req.Run)})
		return o.Data, err
	case sdk.Transform:
		return t.Transform(ctx, in)
	case sdk.Validator:
		return nil, t.Validate(ctx, in)
	}
	return nil, sdk.Errorf(sdk.CodeInternal, "%s %q: %T implements no component interface", req.Kind, req.Name, inst)
}

func (s *Server) lookup(kind, name string) (sdk.Component, error) {
	c, ok := s.components[sdk.Kind(kind)][name]
	if !ok {
		return nil, sdk.Errorf(sdk.CodeInternal, "this plugin serves no %s %q", kind, name)
	}
	return c, nil
}

func decodeJSON(b []byte, what string) (any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "decode %s: %v", what, err)
	}
	return v, nil
}

func recoverInto(dst **pb.Error, kind, name string) {
	if p := recover(); p != nil {
		Logger().Error("component panicked", "kind", kind, "name", name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		*dst = errorToWire(sdk.Errorf(sdk.CodeInternal, "%s %q panicked: %v", kind, name, p))
	}
}
