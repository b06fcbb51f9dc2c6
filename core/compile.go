package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/robfig/cron/v3"

	"github.com/weftworks/weft/sdk"
)

// Plan is a workflow compiled for execution: validated, with its dependency
// graph built, templates parsed, expressions compiled and a configured
// instance of every step's component. A Plan is immutable and may run any
// number of executions concurrently.
type Plan struct {
	wf           *Workflow
	nodes        []*Node // top-level steps, in declaration order
	barriers     []*Node // joins between large order groups (see buildGraph)
	byID         map[string]*Node
	errorHandler *Node
	output       *ValueTemplate
	timeout      time.Duration
	sinks        []*Node
	closers      []sdk.Closer
	secrets      []string  // names read by {{secrets.NAME}} anywhere
	redact       *redactor // secret values components fetched through their Host
	ref          planRef   // where its workflow version is stored
}

func (p *Plan) addSecrets(names []string) {
	for _, n := range names {
		if !slices.Contains(p.secrets, n) {
			p.secrets = append(p.secrets, n)
		}
	}
}

// Workflow returns the definition the plan was compiled from.
func (p *Plan) Workflow() *Workflow { return p.wf }

// Close releases the resources held by the plan's component instances.
func (p *Plan) Close(ctx context.Context) error {
	var errs []error
	for _, c := range p.closers {
		if err := c.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("close plan: %v", errs)
	}
	return nil
}

// Node is one compiled step.
type Node struct {
	def    *Step
	path   string
	order  int // effective order, for steps without dependsOn
	parent *Node

	step   sdk.Step   // plain components: the engine renders config for them
	engine EngineStep // engine steps compile and run themselves
	config *ValueTemplate
	schema *configSchema // checks a plain step's rendered config; nil: none declared

	retry      *retryPlan
	breaker    *BreakerRef
	timeout    time.Duration
	onError    string
	fallback   *Node
	idempotent bool
	handler    bool // a fallback or the error handler: runs only when called

	deps       []*Node
	dependants []*Node
	branches   []*Node // steps this step may skip (CONDITIONAL)
	nested     []*Node
	refs       []ref
	topo       int // position in topological order

	repeats        bool // its nested step runs once per item (FOR_EACH)
	perItem        bool // runs once per item of its parent
	sharedFallback bool // the fallback of several steps: records are keyed per step
	barrier        bool // joins two large order groups; runs nothing, has no record
}

type ref struct {
	id   string
	path string
}

// ID returns the step's id.
func (n *Node) ID() string { return n.def.ID }

// Def returns the step's definition.
func (n *Node) Def() *Step { return n.def }

// Path returns the step's JSON path in the workflow (steps[2], or below a
// PARALLEL's config for a nested step).
func (n *Node) Path() string { return n.path }

var stepIDPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

var structValidator = func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		if name == "" {
			return f.Name
		}
		return name
	})
	_ = v.RegisterValidation("stepid", func(fl validator.FieldLevel) bool {
		return stepIDPattern.MatchString(fl.Field().String())
	})
	return v
}()

// validateStruct runs validator/v10 over v and reports problems below base.
func validateStruct(v any, base string) []sdk.Problem {
	err := structValidator.Struct(v)
	if err == nil {
		return nil
	}
	verrs, ok := err.(validator.ValidationErrors)
	if !ok {
		return []sdk.Problem{{Path: base, Message: err.Error()}}
	}
	out := make([]sdk.Problem, 0, len(verrs))
	for _, fe := range verrs {
		ns := fe.Namespace()
		if i := strings.IndexByte(ns, '.'); i >= 0 {
			ns = ns[i+1:] // drop the root type name
		} else {
			ns = ""
		}
		out = append(out, sdk.Problem{Path: sdk.JoinPath(base, ns), Message: fieldMessage(fe)})
	}
	return out
}

func fieldMessage(fe validator.FieldError) string {
	p := fe.Param()
	isText := fe.Kind() == reflect.String
	switch fe.Tag() {
	case "required":
		if fe.Kind() == reflect.Slice {
			return "is required and must not be empty"
		}
		return "is required"
	case "max":
		if isText {
			return "must be at most " + p + " characters"
		}
		if fe.Kind() == reflect.Slice || fe.Kind() == reflect.Map {
			return "must have at most " + p + " entries"
		}
		return "must be at most " + p
	case "min":
		if fe.Kind() == reflect.Slice {
			if p == "1" {
				return "must not be empty"
			}
			return "must have at least " + p + " entries"
		}
		return "must be at least " + p
	case "gte":
		return "must be at least " + p
	case "lte":
		return "must be at most " + p
	case "oneof":
		return fmt.Sprintf("%q is not one of: %s", fmt.Sprint(fe.Value()), strings.ReplaceAll(p, " ", ", "))
	case "stepid":
		return fmt.Sprintf("%q is not a valid step id: start with a letter or '_', then letters, digits, '_' or '-'", fmt.Sprint(fe.Value()))
	}
	return "fails the " + fe.Tag() + " rule"
}

// compiler carries the state of one compilation.
type compiler struct {
	ctx      context.Context
	eng      *Engine
	wf       *Workflow
	plan     *Plan
	problems []sdk.Problem
	all      []*Node
	later    []func() // checks that need every step compiled first
}

func (c *compiler) deferred(fn func()) { c.later = append(c.later, fn) }

func (c *compiler) add(path, format string, args ...any) {
	c.problems = append(c.problems, sdk.Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Compile validates a workflow and compiles it into a Plan. Every problem is
// reported at once in a *sdk.ValidationError, each with its JSON path (and
// line and column when the workflow was parsed from a JSON document).
func (e *Engine) Compile(ctx context.Context, wf *Workflow) (*Plan, error) {
	if wf == nil {
		return nil, problem("", "no workflow")
	}
	c := &compiler{ctx: ctx, eng: e, wf: wf, plan: &Plan{wf: wf, byID: map[string]*Node{}, redact: &redactor{}}}
	c.problems = append(c.problems, validateStruct(wf, "")...)
	c.problems = append(c.problems, checkRetryPolicy(wf.DefaultRetryPolicy, "defaultRetryPolicy")...)
	c.checkTriggers()
	c.plan.timeout = Millis(wf.Timeout)

	prevOrder := 0
	for i := range wf.Steps {
		n := c.compileStep(&wf.Steps[i], fmt.Sprintf("steps[%d]", i), nil)
		// Without an order, a step comes after the one before it in the list.
		n.order = wf.Steps[i].Order
		if n.order == 0 {
			n.order = prevOrder + 1
		}
		prevOrder = n.order
		c.plan.nodes = append(c.plan.nodes, n)
	}
	for _, fn := range c.later {
		fn()
	}
	c.resolveHandlers()
	c.checkRefs(!c.buildGraph())
	if wf.Output != nil {
		vt, problems := CompileValue(wf.Output, "output")
		c.problems = append(c.problems, problems...)
		for _, r := range vt.refs {
			if _, ok := c.plan.byID[r.id]; !ok {
				c.unknownRef(r)
			}
		}
		c.plan.output = vt
	}
	if len(c.problems) > 0 {
		_ = c.plan.Close(ctx)
		return nil, wf.locate(&sdk.ValidationError{Problems: c.problems})
	}
	for _, n := range c.all {
		if p, ok := n.component().(sdk.Provisioner); ok {
			if err := p.Provision(ctx, e.host(n.def.Type, c.plan.redact)); err != nil {
				_ = c.plan.Close(ctx)
				return nil, fmt.Errorf("provision step %q (%s): %w", n.def.ID, n.def.Type, err)
			}
		}
	}
	return c.plan, nil
}

// Validate reports every problem of a workflow, or nil.
func (e *Engine) Validate(ctx context.Context, wf *Workflow) error {
	p, err := e.Compile(ctx, wf)
	if err != nil {
		return err
	}
	return p.Close(ctx)
}

func (n *Node) component() sdk.Component {
	if n.engine != nil {
		return n.engine
	}
	return n.step
}

func (c *compiler) checkTriggers() {
	parser := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	for i, t := range c.wf.Triggers {
		path := fmt.Sprintf("triggers[%d].config", i)
		switch t.Type {
		case "CRON", "SCHEDULE":
			expr, _ := t.Config["expression"].(string)
			if expr == "" {
				expr, _ = t.Config["cron"].(string)
			}
			if expr == "" {
				c.add(path+".expression", "a %s trigger needs a cron expression", t.Type)
			} else if _, err := parser.Parse(expr); err != nil {
				c.add(path+".expression", "invalid cron expression %q: %v", expr, err)
			}
		case "EVENT":
			if et, _ := t.Config["eventType"].(string); et == "" {
				c.add(path+".eventType", "an EVENT trigger needs an eventType")
			}
		}
	}
}

// compileStep compiles one step definition (top-level or nested).
func (c *compiler) compileStep(def *Step, path string, parent *Node) *Node {
	n := &Node{def: def, path: path, parent: parent, onError: def.OnError}
	c.all = append(c.all, n)
	if parent != nil { // top-level steps were validated with the workflow
		c.problems = append(c.problems, validateStruct(def, path)...)
	}
	if def.ID != "" {
		if prev, dup := c.plan.byID[def.ID]; dup {
			c.add(path+".id", "duplicate step id %q (also used by %s)", def.ID, prev.path)
		} else {
			c.plan.byID[def.ID] = n
		}
	}
	c.problems = append(c.problems, checkRetryPolicy(def.RetryPolicy, path+".retryPolicy")...)
	n.timeout = Millis(def.Timeout)
	n.idempotent = def.Idempotent == nil || *def.Idempotent
	if def.CircuitBreaker != nil {
		b := *def.CircuitBreaker
		n.breaker = &b
	}
	policy := def.RetryPolicy
	if policy == nil {
		policy = c.wf.DefaultRetryPolicy
	}
	n.retry = newRetryPlan(policy)

	if def.Type == "" {
		return n
	}
	entry, ok := c.eng.reg.Lookup(sdk.KindStep, def.Type)
	if !ok {
		msg := fmt.Sprintf("unknown step type %q", def.Type)
		known := c.eng.reg.Names(sdk.KindStep)
		if s := sdk.Suggest(def.Type, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		c.add(path+".type", "%s; known types: %s", msg, strings.Join(known, ", "))
		return n
	}
	inst := entry.New()
	if cl, ok := inst.(sdk.Closer); ok {
		c.plan.closers = append(c.plan.closers, cl)
	}
	cfgPath := path + ".config"
	var rawConfig any
	if def.Config != nil {
		rawConfig = def.Config
	}
	schemaPaths := c.checkSchema(entry.schema, rawConfig, cfgPath)
	if es, ok := inst.(EngineStep); ok {
		// Engine steps call nothing outside by themselves: retries and breakers
		// belong on the steps they run.
		n.engine, n.retry = es, noRetry
		if def.RetryPolicy != nil {
			c.add(path+".retryPolicy", "%s steps are not retried; set retryPolicy on the steps they run", def.Type)
		}
		if def.CircuitBreaker != nil {
			c.add(path+".circuitBreaker", "%s steps have no circuit breaker; set circuitBreaker on the steps they run", def.Type)
		}
		sc := &StepCompiler{c: c, node: n, base: cfgPath}
		if err := es.Compile(sc); err != nil {
			c.add(cfgPath, "%v", err)
		}
		return n
	}
	n.step = inst.(sdk.Step)
	n.schema = entry.schema
	if ck, ok := inst.(sdk.ConfigChecker); ok {
		if err := ck.CheckConfig(rawConfig); err != nil {
			c.addRelativeExcept(cfgPath, err, schemaPaths)
		}
	}
	vt, problems := CompileValue(rawConfig, cfgPath)
	c.problems = append(c.problems, problems...)
	n.config = vt
	n.refs = append(n.refs, vt.refs...)
	c.plan.addSecrets(vt.SecretNames())
	return n
}

// checkSchema validates an unrendered config against a component's config
// schema and reports the violations below base. It returns the paths it
// reported, so that a ConfigChecker saying the same is not repeated.
func (c *compiler) checkSchema(cs *configSchema, config any, base string) map[string]bool {
	if cs == nil {
		return nil
	}
	problems := cs.checkUnrendered(config)
	if len(problems) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(problems))
	for _, p := range problems {
		p.Path = sdk.JoinPath(base, p.Path)
		seen[p.Path] = true
		c.problems = append(c.problems, p)
	}
	return seen
}

// addRelativeExcept is addRelative without the problems at paths in skip.
func (c *compiler) addRelativeExcept(base string, err error, skip map[string]bool) {
	ve, ok := err.(*sdk.ValidationError)
	if !ok || len(skip) == 0 {
		c.addRelative(base, err)
		return
	}
	for _, p := range ve.Problems {
		if p.Path = sdk.JoinPath(base, p.Path); !skip[p.Path] {
			c.problems = append(c.problems, p)
		}
	}
}

// addRelative adds the problems of err (a *sdk.ValidationError with paths
// relative to base, or any error) below base.
func (c *compiler) addRelative(base string, err error) {
	if ve, ok := err.(*sdk.ValidationError); ok {
		for _, p := range ve.Problems {
			p.Path = sdk.JoinPath(base, p.Path)
			c.problems = append(c.problems, p)
		}
		return
	}
	c.problems = append(c.problems, sdk.Problem{Path: base, Message: err.Error()})
}

func (c *compiler) collectRefs(n *Node, ids []string, path string) {
	for _, id := range ids {
		n.refs = append(n.refs, ref{id: id, path: path})
	}
}

// resolveHandlers links fallback steps (onError: <id>) and the workflow's
// errorHandler, which run only when called.
func (c *compiler) resolveHandlers() {
	resolve := func(id, path, what string) *Node {
		h, ok := c.plan.byID[id]
		if !ok {
			c.add(path, "%s %q is not a step of this workflow", what, id)
			return nil
		}
		if h.parent != nil {
			c.add(path, "%s %q is nested inside %q; handlers must be top-level steps", what, id, h.parent.def.ID)
			return nil
		}
		h.handler = true
		return h
	}
	for _, n := range c.all {
		switch n.onError {
		case "", OnErrorFail, OnErrorContinue:
			continue
		}
		if n.parent != nil {
			c.add(n.path+".onError", "steps inside %s may use onError FAIL or CONTINUE only", n.parent.def.Type)
			continue
		}
		if n.onError == n.def.ID {
			c.add(n.path+".onError", "a step cannot be its own fallback")
			continue
		}
		n.fallback = resolve(n.onError, n.path+".onError", "fallback step")
	}
	if id := c.wf.ErrorHandler; id != "" {
		c.plan.errorHandler = resolve(id, "errorHandler", "errorHandler")
	}
	// A chain of fallbacks must end.
	for _, n := range c.plan.nodes {
		seen := map[*Node]bool{}
		for f := n; f != nil; f = f.fallback {
			if seen[f] {
				c.add(n.path+".onError", "fallback steps form a loop through %q", f.def.ID)
				break
			}
			seen[f] = true
		}
	}
	uses := map[*Node]int{}
	for _, n := range c.all {
		if n.fallback != nil {
			uses[n.fallback]++
		}
	}
	if h := c.plan.errorHandler; h != nil {
		uses[h]++
	}
	for _, n := range c.plan.nodes {
		n.sharedFallback = uses[n] > 1
		if !n.handler {
			continue
		}
		if n.def.HasDependsOn() && len(n.def.DependsOn) > 0 {
			c.add(n.path+".dependsOn", "step %q is a fallback or error handler, which runs only when called; it cannot have dependsOn", n.def.ID)
		}
		if len(n.branches) > 0 {
			c.add(n.path+".config", "step %q is a fallback or error handler; it cannot choose branches (then/else) among the workflow's steps", n.def.ID)
			n.branches = nil
		}
	}
}

// buildGraph links dependencies and reports unknown ones and cycles. It
// returns true when the graph is unusable.
func (c *compiler) buildGraph() bool {
	p := c.plan
	type edge struct{ from, to *Node }
	linked := map[edge]bool{}
	link := func(from, to *Node) {
		if linked[edge{from, to}] {
			return
		}
		linked[edge{from, to}] = true
		to.deps = append(to.deps, from)
		from.dependants = append(from.dependants, to)
	}
	broken := false
	// Steps listed in a then/else wait for their CONDITIONAL; without
	// dependsOn they wait for nothing else.
	branchTarget := map[*Node]bool{}
	for _, n := range p.nodes {
		for _, b := range n.branches {
			branchTarget[b] = true
		}
	}
	// Steps without dependsOn run after the steps of the next lower order.
	var orders []int
	byOrder := map[int][]*Node{}
	implicit := map[int][]*Node{}
	for _, n := range p.nodes {
		if n.handler {
			continue
		}
		if _, ok := byOrder[n.order]; !ok {
			orders = append(orders, n.order)
		}
		byOrder[n.order] = append(byOrder[n.order], n)
		if !n.def.HasDependsOn() && !branchTarget[n] {
			implicit[n.order] = append(implicit[n.order], n)
		}
	}
	sort.Ints(orders)
	for i, o := range orders {
		members := implicit[o]
		if i == 0 || len(members) == 0 {
			continue
		}
		prev := byOrder[orders[i-1]]
		if len(prev) > 1 && len(members) > 1 && len(prev)*len(members) > 64 {
			// A barrier joins two large groups with |prev|+|members| edges
			// instead of |prev|×|members|.
			bar := &Node{def: &Step{ID: fmt.Sprintf("(order %d)", o), Type: "BARRIER"}, path: members[0].path, barrier: true}
			p.barriers = append(p.barriers, bar)
			for _, d := range prev {
				link(d, bar)
			}
			for _, n := range members {
				link(bar, n)
			}
			continue
		}
		for _, n := range members {
			for _, d := range prev {
				link(d, n)
			}
		}
	}
	for _, n := range p.nodes {
		if n.handler || !n.def.HasDependsOn() {
			continue
		}
		for j, id := range n.def.DependsOn {
			path := fmt.Sprintf("%s.dependsOn[%d]", n.path, j)
			d, ok := p.byID[id]
			switch {
			case !ok:
				msg := fmt.Sprintf("unknown step %q", id)
				if s := sdk.Suggest(id, c.topIDs()); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				c.add(path, "%s", msg)
				broken = true
			case d == n:
				c.add(path, "a step cannot depend on itself")
				broken = true
			case d.parent != nil:
				c.add(path, "step %q is nested inside %q; depend on %q instead", id, d.top().def.ID, d.top().def.ID)
				broken = true
			case d.handler:
				c.add(path, "step %q is a fallback or error handler, which runs only when called; it cannot be a dependency", id)
				broken = true
			default:
				link(d, n)
			}
		}
	}
	for _, n := range p.nodes {
		for _, b := range n.branches {
			if b.handler {
				continue
			}
			link(n, b)
		}
	}
	if cycle := findCycle(p.graph()); cycle != nil {
		ids := make([]string, len(cycle))
		var implicit []string
		for i, n := range cycle {
			ids[i] = n.def.ID
			if i == 0 {
				continue
			}
			prev := cycle[i-1]
			switch {
			case slices.Contains(n.def.DependsOn, prev.def.ID):
			case slices.Contains(prev.branches, n):
				implicit = append(implicit, fmt.Sprintf("%s → %s: a then/else step waits for its %s", prev.def.ID, n.def.ID, prev.def.Type))
			default:
				implicit = append(implicit, fmt.Sprintf("%s → %s: without dependsOn a step follows the steps of the next lower order", prev.def.ID, n.def.ID))
			}
		}
		msg := "dependency cycle: " + strings.Join(ids, " → ")
		if len(implicit) > 0 {
			msg += " (" + strings.Join(implicit, "; ") + ")"
		}
		c.add(cycle[0].path+".dependsOn", "%s", msg)
		return true
	}
	for _, n := range p.nodes {
		if !n.handler && len(n.dependants) == 0 {
			p.sinks = append(p.sinks, n)
		}
	}
	return broken
}

// repeatedIn returns the FOR_EACH a step runs under (once per item), or nil.
func (n *Node) repeatedIn() *Node {
	for m := n; m.parent != nil; m = m.parent {
		if m.perItem {
			return m.parent
		}
	}
	return nil
}

func (n *Node) top() *Node {
	for n.parent != nil {
		n = n.parent
	}
	return n
}

func (c *compiler) topIDs() []string {
	ids := make([]string, 0, len(c.plan.nodes))
	for _, n := range c.plan.nodes {
		ids = append(ids, n.def.ID)
	}
	return ids
}

// graph returns every node of the dependency graph: the top-level steps and
// the barriers between large order groups.
func (p *Plan) graph() []*Node {
	if len(p.barriers) == 0 {
		return p.nodes
	}
	return append(slices.Clip(p.nodes), p.barriers...)
}

// findCycle orders the nodes topologically (setting Node.topo) and returns a
// cycle, first node repeated at the end, when there is one.
func findCycle(nodes []*Node) []*Node {
	indeg := make(map[*Node]int, len(nodes))
	for _, n := range nodes {
		indeg[n] = len(n.deps)
	}
	queue := make([]*Node, 0, len(nodes))
	for _, n := range nodes {
		if indeg[n] == 0 {
			queue = append(queue, n)
		}
	}
	done := 0
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		n.topo = done
		done++
		for _, d := range n.dependants {
			indeg[d]--
			if indeg[d] == 0 {
				queue = append(queue, d)
			}
		}
	}
	if done == len(nodes) {
		return nil
	}
	// Every node left has a dependency left; walk dependencies until one repeats.
	var start *Node
	for _, n := range nodes {
		if indeg[n] > 0 {
			start = n
			break
		}
	}
	seen := map[*Node]int{}
	var path []*Node
	for n := start; ; {
		if i, ok := seen[n]; ok {
			cycle := append([]*Node{}, path[i:]...)
			slices.Reverse(cycle) // dependencies were followed backwards
			cycle = append(cycle, cycle[0])
			return cycle
		}
		seen[n] = len(path)
		path = append(path, n)
		for _, d := range n.deps {
			if indeg[d] > 0 {
				n = d
				break
			}
		}
	}
}

// checkRefs checks that every steps.<id> a step reads names a step that has
// finished by the time it runs: one of its transitive dependencies.
//
// With a broken graph (unknown dependencies, a cycle) only existence is checked.
func (c *compiler) checkRefs(graphOK bool) {
	p := c.plan
	needed := false
	for _, n := range c.all {
		if len(n.refs) > 0 {
			needed = true
			break
		}
	}
	if !needed {
		return
	}
	if !graphOK {
		for _, n := range c.all {
			for _, r := range n.refs {
				if _, ok := p.byID[r.id]; !ok {
					c.unknownRef(r)
				}
			}
		}
		return
	}
	// Ancestor sets as bitsets over the topological order: cheap even for
	// workflows of thousands of steps.
	graph := p.graph()
	words := (len(graph) + 63) / 64
	byTopo := make([]*Node, len(graph))
	for _, n := range graph {
		byTopo[n.topo] = n
	}
	anc := make([][]uint64, len(graph))
	for _, n := range byTopo {
		set := make([]uint64, words)
		for _, d := range n.deps {
			set[d.topo/64] |= 1 << (d.topo % 64)
			for w, bitsW := range anc[d.topo] {
				set[w] |= bitsW
			}
		}
		anc[n.topo] = set
	}
	for _, n := range c.all {
		top := n.top()
		for _, r := range n.refs {
			target, ok := p.byID[r.id]
			if !ok {
				c.unknownRef(r)
				continue
			}
			if each := target.repeatedIn(); each != nil {
				c.add(r.path, "refers to step %q, which runs once per item of %q: read the results as steps.%s.output", r.id, each.def.ID, each.def.ID)
				continue
			}
			if top.handler {
				continue // handlers run after the failure, when anything may have finished
			}
			ttop := target.top()
			if ttop == top {
				c.add(r.path, "refers to step %q, which runs inside the same step %q and has not finished when this runs", r.id, top.def.ID)
				continue
			}
			if ttop.handler {
				continue // a fallback's output is read through the step it replaces
			}
			if anc[top.topo][ttop.topo/64]&(1<<(ttop.topo%64)) == 0 {
				c.add(r.path, "refers to step %q, which does not precede step %q: add %q to dependsOn", r.id, top.def.ID, ttop.def.ID)
			}
		}
	}
}

func (c *compiler) unknownRef(r ref) {
	msg := fmt.Sprintf("refers to step %q, which does not exist", r.id)
	if s := sdk.Suggest(r.id, c.allIDs()); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	c.add(r.path, "%s", msg)
}

func (c *compiler) allIDs() []string {
	ids := make([]string, 0, len(c.plan.byID))
	for id := range c.plan.byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// StepCompiler is what an EngineStep's Compile sees: its raw config and the
// means to compile templates, expressions and nested steps, reporting problems
// at the right JSON paths.
type StepCompiler struct {
	c    *compiler
	node *Node
	base string
}

// Context returns the compilation's context.
func (sc *StepCompiler) Context() context.Context { return sc.c.ctx }

// Step returns the step's definition.
func (sc *StepCompiler) Step() *Step { return sc.node.def }

// Config returns the step's raw, unrendered config (nil when absent).
func (sc *StepCompiler) Config() map[string]any { return sc.node.def.Config }

// Path returns the JSON path of the step's config.
func (sc *StepCompiler) Path() string { return sc.base }

// Problem reports a problem at a path relative to the config.
func (sc *StepCompiler) Problem(rel, format string, args ...any) {
	sc.c.add(sdk.JoinPath(sc.base, rel), format, args...)
}

// Problems reports the problems of err (a *sdk.ValidationError whose paths are
// relative to rel, or any error) below the config.
func (sc *StepCompiler) Problems(rel string, err error) {
	if err != nil {
		sc.c.addRelative(sdk.JoinPath(sc.base, rel), err)
	}
}

// Decode decodes the whole config strictly into v, reporting unknown fields and
// wrong types. It returns false when there were problems.
func (sc *StepCompiler) Decode(v any) bool {
	var cfg any
	if sc.node.def.Config != nil {
		cfg = sc.node.def.Config
	}
	if err := sdk.CheckShape(cfg, reflect.TypeOf(v).Elem(), false); err != nil {
		sc.Problems("", err)
		return false
	}
	if cfg == nil {
		return true
	}
	raw, err := json.Marshal(cfg)
	if err == nil {
		err = json.Unmarshal(raw, v)
	}
	if err != nil {
		sc.Problem("", "%v", err)
		return false
	}
	return true
}

// Template compiles a value whose strings may hold {{…}} templates.
func (sc *StepCompiler) Template(v any, rel string) *ValueTemplate {
	path := sdk.JoinPath(sc.base, rel)
	vt, problems := CompileValue(v, path)
	sc.c.problems = append(sc.c.problems, problems...)
	sc.node.refs = append(sc.node.refs, vt.refs...)
	sc.c.plan.addSecrets(vt.SecretNames())
	return vt
}

// Expr compiles an expression; it returns nil (and reports the problem) when
// the expression does not compile.
func (sc *StepCompiler) Expr(src, rel string) *Expr {
	path := sdk.JoinPath(sc.base, rel)
	e, err := CompileExpr(src)
	if err != nil {
		sc.c.add(path, "%v", err)
		return nil
	}
	sc.c.collectRefs(sc.node, e.Refs(), path)
	return e
}

// Path parses a data path (steps.x.output.score, items[0].id); it reports a
// problem and returns nil when the path is malformed.
func (sc *StepCompiler) ParsePath(s, rel string) []PathSeg {
	segs := ParsePath(s)
	if segs == nil {
		sc.Problem(rel, "%q is not a path like steps.get_lead.output.body.score or items[0].id", s)
		return nil
	}
	if segs[0].Key == RootSteps && len(segs) > 1 && segs[1].Key != "" {
		sc.c.collectRefs(sc.node, []string{segs[1].Key}, sdk.JoinPath(sc.base, rel))
	}
	return segs
}

// Nested compiles a step that runs inside this one (PARALLEL, FOR_EACH).
func (sc *StepCompiler) Nested(def *Step, rel string) *Node {
	n := sc.c.compileStep(def, sdk.JoinPath(sc.base, rel), sc.node)
	if def.HasDependsOn() && len(def.DependsOn) > 0 {
		sc.c.add(n.path+".dependsOn", "steps inside %s start together; dependsOn is not allowed here", sc.node.def.Type)
	}
	sc.node.nested = append(sc.node.nested, n)
	return n
}

// NestedEach compiles a step that runs once per item (FOR_EACH): its runs are
// recorded as id[index], and other steps cannot read it by its id.
func (sc *StepCompiler) NestedEach(def *Step, rel string) *Node {
	n := sc.Nested(def, rel)
	n.perItem = true
	sc.node.repeats = true
	return n
}

// Branch declares steps that run only if this step chooses them: they wait for
// this step, and the ones it does not choose end SKIPPED.
func (sc *StepCompiler) Branch(ids []string, rel string) {
	for i, id := range ids {
		path := sdk.JoinPath(sc.base, rel) + "[" + strconv.Itoa(i) + "]"
		sc.c.deferred(func() {
			t, ok := sc.c.plan.byID[id]
			switch {
			case !ok:
				sc.c.add(path, "unknown step %q", id)
			case t.parent != nil:
				sc.c.add(path, "step %q is nested inside %q; branch to top-level steps", id, t.top().def.ID)
			case t == sc.node:
				sc.c.add(path, "a step cannot branch to itself")
			case sc.node.parent != nil:
				sc.c.add(path, "a %s nested inside another step cannot branch to top-level steps", sc.node.def.Type)
			default:
				sc.node.branches = append(sc.node.branches, t)
			}
		})
	}
}

// InlineScript is a script written in a workflow: {"lang": "lua", "source": "…"}.
type InlineScript struct {
	Lang   string `json:"lang"`
	Source string `json:"source"`
}

// ScriptTransform compiles an inline script as a transform with its static
// config, through the registered language of s.Lang.
func (sc *StepCompiler) ScriptTransform(s InlineScript, config any, rel string) sdk.Transform {
	return scriptAs[sdk.Transform](sc, sdk.KindTransform, s, config, rel)
}

// ScriptValidator compiles an inline script as a validator with its static
// config, through the registered language of s.Lang.
func (sc *StepCompiler) ScriptValidator(s InlineScript, config any, rel string) sdk.Validator {
	return scriptAs[sdk.Validator](sc, sdk.KindValidator, s, config, rel)
}

// scriptAs compiles an inline script as a component of kind, which must
// implement T.
func scriptAs[T sdk.Component](sc *StepCompiler, kind sdk.Kind, s InlineScript, config any, rel string) T {
	var none T
	inst := sc.script(kind, s, config, rel)
	if inst == nil {
		return none
	}
	t, ok := inst.(T)
	if !ok {
		sc.Problem(rel, "the %s compiler returned a %T, not a %s", s.Lang, inst, kind)
		return none
	}
	return t
}

func (sc *StepCompiler) script(kind sdk.Kind, s InlineScript, config any, rel string) sdk.Component {
	langs := sc.c.eng.reg.Languages()
	known := "none registered"
	if len(langs) > 0 {
		known = "known: " + strings.Join(langs, ", ")
	}
	if s.Lang == "" {
		sc.Problem(rel+".lang", "is required (%s)", known)
		return nil
	}
	l, ok := sc.c.eng.reg.Language(s.Lang)
	if !ok {
		sc.Problem(rel+".lang", "unknown script language %q (%s)", s.Lang, known)
		return nil
	}
	if s.Source == "" {
		sc.Problem(rel+".source", "is required: the %s script", s.Lang)
		return nil
	}
	name := fmt.Sprintf("%s.%s", sc.Step().ID, rel)
	inst, err := l.CompileScript(kind, name, s.Source)
	if err != nil {
		sc.SourceProblems(rel+".source", err)
		return nil
	}
	cs, err := sc.c.eng.reg.schemaOf(inst)
	if err != nil {
		sc.Problem(rel+".source", "%v", err)
		return nil
	}
	return sc.configure(inst, kind, s.Lang+" script", config, rel, cs)
}

// SourceProblems reports the errors of compiling a script at rel. The line
// and column of a problem are positions in the script, not in the workflow
// document, so they go into the message.
func (sc *StepCompiler) SourceProblems(rel string, err error) {
	var ve *sdk.ValidationError
	if !errors.As(err, &ve) {
		sc.Problem(rel, "%v", err)
		return
	}
	for _, p := range ve.Problems {
		at := rel
		if p.Path != "" {
			at = sdk.JoinPath(rel, p.Path)
		}
		if p.Line > 0 {
			sc.Problem(at, "line %d, column %d: %s", p.Line, p.Column, p.Message)
		} else {
			sc.Problem(at, "%s", p.Message)
		}
	}
}

// RuleSourcePrefix starts the Entry.Source of a transform that is a stored
// TransformationRule ("rule:score_lead"): a {"rule": …} reference accepts
// only those.
const RuleSourcePrefix = "rule:"

// Rule instantiates the transform of a stored TransformationRule with its
// static config.
func (sc *StepCompiler) Rule(name string, config any, rel string) sdk.Transform {
	entry, ok := sc.c.eng.reg.Lookup(sdk.KindTransform, name)
	if !ok || !strings.HasPrefix(entry.Source, RuleSourcePrefix) {
		var rules []string
		for _, e := range sc.c.eng.reg.List(sdk.KindTransform) {
			if strings.HasPrefix(e.Source, RuleSourcePrefix) {
				rules = append(rules, e.Name)
			}
		}
		list := "none stored"
		if len(rules) > 0 {
			list = "stored: " + strings.Join(rules, ", ")
		}
		if ok {
			sc.Problem(rel, "%q is a %s transform, not a stored rule; use \"name\" (%s)", name, entry.Origin, list)
		} else {
			sc.Problem(rel, "unknown rule %q (%s)", name, list)
		}
		return nil
	}
	inst := sc.configure(entry.New(), sdk.KindTransform, name, config, rel, entry.schema)
	if inst == nil {
		return nil
	}
	return inst.(sdk.Transform)
}

// Transform instantiates a registered transform with its static config.
func (sc *StepCompiler) Transform(name string, config any, rel string) sdk.Transform {
	inst := sc.instantiate(sdk.KindTransform, name, config, rel)
	if inst == nil {
		return nil
	}
	return inst.(sdk.Transform)
}

// Validator instantiates a registered validator with its static config.
func (sc *StepCompiler) Validator(name string, config any, rel string) sdk.Validator {
	inst := sc.instantiate(sdk.KindValidator, name, config, rel)
	if inst == nil {
		return nil
	}
	return inst.(sdk.Validator)
}

func (sc *StepCompiler) instantiate(kind sdk.Kind, name string, config any, rel string) sdk.Component {
	entry, ok := sc.c.eng.reg.Lookup(kind, name)
	if !ok {
		known := sc.c.eng.reg.Names(kind)
		list := "none registered"
		if len(known) > 0 {
			list = "known: " + strings.Join(known, ", ")
		}
		sc.Problem(rel, "unknown %s %q (%s)", kind, name, list)
		return nil
	}
	return sc.configure(entry.New(), kind, name, config, rel, entry.schema)
}

// configure hands a new instance its static config and provisions it. The
// config is checked first against cs, the component's config schema (nil:
// none). A static config is used as written, never rendered, so a template
// in it earns no tolerance.
func (sc *StepCompiler) configure(inst sdk.Component, kind sdk.Kind, name string, config any, rel string, cs *configSchema) sdk.Component {
	if cs != nil {
		if config == nil {
			// Where a config would go is the caller's layout; the
			// component's reference (its name, rule or script) is known.
			if problems := cs.problems(emptyConfig, false); len(problems) > 0 {
				sc.Problem(rel, "needs a config: %s", (&sdk.ValidationError{Problems: problems}).Error())
				return nil
			}
		} else if problems := cs.problems(config, false); len(problems) > 0 {
			sc.Problems(sc.configRel(config, rel), &sdk.ValidationError{Problems: problems})
			return nil
		}
	}
	if config != nil {
		if ck, ok := inst.(sdk.ConfigChecker); ok {
			if err := ck.CheckConfig(config); err != nil {
				sc.Problems(rel+".config", err)
				return nil
			}
		}
		raw, err := json.Marshal(config)
		if err == nil {
			err = json.Unmarshal(raw, inst)
		}
		if err != nil {
			sc.Problem(rel+".config", "%v", err)
			return nil
		}
	}
	if cl, ok := inst.(sdk.Closer); ok {
		sc.c.plan.closers = append(sc.c.plan.closers, cl)
	}
	if p, ok := inst.(sdk.Provisioner); ok {
		if err := p.Provision(sc.c.ctx, sc.c.eng.host(name, sc.c.plan.redact)); err != nil {
			sc.Problem(rel, "%s %q: %v", kind, name, err)
			return nil
		}
	}
	return inst
}

// configRel finds where a static config sits in the step's config, so that
// its problems point at it: the member beside the component's reference rel
// (an operation's "config" beside its "name", a VALIDATION's
// "validatorConfig" beside "validator") that holds an equal value.
// Callers decode their config before handing parts of it on, so identity
// cannot tell; equality among the siblings of one reference can. It falls
// back to rel+".config".
func (sc *StepCompiler) configRel(config any, rel string) string {
	fallback := rel + ".config"
	m, ok := config.(map[string]any)
	if !ok || sc.node.def.Config == nil {
		return fallback
	}
	parent := parentPath(rel)
	var holder any = sc.node.def.Config
	if parent != "" {
		segs := ParsePath(parent)
		if segs == nil {
			return fallback
		}
		if holder, ok = Lookup(holder, segs); !ok {
			return fallback
		}
	}
	obj, ok := holder.(map[string]any)
	if !ok {
		return fallback
	}
	if v, ok := obj["config"].(map[string]any); ok && reflect.DeepEqual(v, m) {
		return sdk.KeyPath(parent, "config")
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v, ok := obj[k].(map[string]any); ok && reflect.DeepEqual(v, m) {
			return sdk.KeyPath(parent, k)
		}
	}
	return fallback
}
