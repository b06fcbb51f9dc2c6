package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// Role is what an API key may do. The roles are nested: each may do what
// the ones before it may (docs/api.md has the matrix).
type Role string

// Roles, from least to most powerful.
const (
	// RoleViewer reads everything: workflows, executions, metrics, breakers.
	RoleViewer Role = "viewer"
	// RoleOperator also runs workflows, cancels and retries executions; it
	// may not author, since a definition carries expressions and scripts.
	RoleOperator Role = "operator"
	// RoleEditor also creates, changes and deletes workflows, and runs inline
	// definitions.
	RoleEditor Role = "editor"
	// RoleAdmin also manages API keys and circuit breakers.
	RoleAdmin Role = "admin"
)

// Roles lists the roles from least to most powerful.
var Roles = []Role{RoleViewer, RoleOperator, RoleEditor, RoleAdmin}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(Roles, r) {
		return "", fmt.Errorf("unknown role %q: one of viewer, operator, editor, admin", s)
	}
	return r, nil
}

// permission is what a route needs.
type permission int

const (
	permPublic permission = iota // no key needed: liveness, readiness, the API document
	permRead
	permRun
	permAuthor
	permAdmin
)

func (p permission) String() string {
	return [...]string{"public", "read", "run", "author", "admin"}[p]
}

// role is the least role that has a permission (the roles are nested).
func (p permission) role() Role {
	for _, r := range Roles {
		if r.may(p) {
			return r
		}
	}
	return RoleAdmin
}

// forbidden is the 403 of a key whose role may not do what it asked: it
// names the role needed and the key's, in the roles' own words (what a user
// can act on: ask for a key of that role).
func forbidden(r *http.Request, need permission, role Role, prefix string) error {
	want, more := need.role(), ""
	if want != RoleAdmin {
		more = " or higher"
	}
	return &apiError{Status: http.StatusForbidden, Code: CodeForbidden,
		Message: fmt.Sprintf("%s %s needs the %s role%s; this key (%s…) has the %s role", r.Method, r.URL.Path, want, more, prefix, role),
		Details: []sdk.Problem{{Path: "role", Message: fmt.Sprintf("needs %s%s, has %s", want, more, role)}}}
}

// may reports whether a role has a permission.
func (r Role) may(p permission) bool {
	switch p {
	case permPublic, permRead:
		return slices.Contains(Roles, r)
	case permRun:
		return r == RoleOperator || r == RoleEditor || r == RoleAdmin
	case permAuthor:
		return r == RoleEditor || r == RoleAdmin
	case permAdmin:
		return r == RoleAdmin
	}
	return false
}

// keyPrefix starts every key, so that secret scanners can find leaked ones.
const keyPrefix = "weft_"

// NewKey makes an API key: 256 random bits. It returns the key, to be shown
// once, and its record, which holds only the key's hash.
func NewKey(name string, role Role, now time.Time) (string, core.APIKey) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	secret := keyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, core.APIKey{
		ID: uuid.Must(uuid.NewV7()).String(), Name: name, Role: string(role),
		Prefix: secret[:len(keyPrefix)+6], Hash: HashKey(secret), CreatedAt: now,
	}
}

// HashKey is how a key is stored and looked up: its SHA-256, in hex.
func HashKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// CreateKey makes a key and stores it; the key is returned once, never
// stored.
func CreateKey(ctx context.Context, keys Keys, name string, role Role) (string, core.APIKey, error) {
	secret, k := NewKey(name, role, time.Now())
	if err := keys.SaveKey(ctx, k); err != nil {
		return "", core.APIKey{}, fmt.Errorf("save API key: %w", err)
	}
	return secret, k, nil
}

// keyFrom reads the key of a request: "Authorization: Bearer KEY" or
// "X-API-Key: KEY".
func keyFrom(r *http.Request) string {
	if k := r.Header.Get("X-API-Key"); k != "" {
		return strings.TrimSpace(k)
	}
	auth := r.Header.Get("Authorization")
	if scheme, k, ok := strings.Cut(auth, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(k)
	}
	return ""
}

type principalKey struct{}

// principal is who made a request.
type principal struct {
	KeyID string
	Role  Role
}

// authorize checks a request's key against what its route needs: 401 when
// there is no valid key (none, unknown, revoked), 403 when the key's role
// may not.
func (s *Server) authorize(r *http.Request, need permission) (*http.Request, error) {
	if need == permPublic {
		return r, nil
	}
	if s.noAuth {
		return r.WithContext(context.WithValue(r.Context(), principalKey{}, principal{Role: RoleAdmin})), nil
	}
	secret := keyFrom(r)
	if secret == "" {
		return nil, errorf(http.StatusUnauthorized, CodeUnauthorized, "an API key is required: send it as \"Authorization: Bearer KEY\" or \"X-API-Key: KEY\"")
	}
	hash := HashKey(secret)
	k, ok := s.keyCache.get(hash)
	if !ok {
		var err error
		k, err = s.keys.KeyByHash(r.Context(), hash)
		if errors.Is(err, core.ErrNotFound) {
			return nil, errorf(http.StatusUnauthorized, CodeUnauthorized, "unknown API key")
		}
		if err != nil {
			return nil, fmt.Errorf("look up API key: %w", err)
		}
		s.keyCache.put(hash, k)
	}
	if !k.RevokedAt.IsZero() {
		return nil, errorf(http.StatusUnauthorized, CodeUnauthorized, "API key %s… was revoked", k.Prefix)
	}
	role := Role(k.Role)
	if !role.may(need) {
		return nil, forbidden(r, need, role, k.Prefix)
	}
	return r.WithContext(context.WithValue(r.Context(), principalKey{}, principal{KeyID: k.ID, Role: role})), nil
}
