package sdk_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"testing"

	"github.com/weftworks/weft/sdk"
)

type pInner struct{ Name int }
type pOuter struct {
	Name string
	pInner
}
type pA struct{ X int }
type pB struct{ X int }
type pAmb struct {
	pA
	pB
}

func TestProbe(t *testing.T) {
	var o pOuter
	fmt.Println("1 shadow:", sdk.DecodeValue(map[string]any{"Name": "x"}, &o), o)
	var amb pAmb
	fmt.Println("2 ambiguous:", sdk.DecodeValue(map[string]any{"X": 1.0}, &amb), amb)
	var s struct {
		N int `json:"n,string"`
	}
	fmt.Println("3 string tag:", sdk.DecodeValue(map[string]any{"n": "12"}, &s), sdk.DecodeValue(map[string]any{"n": 12.0}, &s))
	var ba struct{ B [2]byte }
	fmt.Println("4 [2]byte:", sdk.DecodeValue(map[string]any{"B": []any{1.0, 2.0}}, &ba), json.Unmarshal([]byte(`{"B":[1,2]}`), &ba), ba)
	var na struct{ A [2]int }
	fmt.Println("5 null array:", sdk.DecodeValue(map[string]any{"A": nil}, &na), json.Unmarshal([]byte(`{"A":null}`), &na))
	var ad struct{ A netip.Addr }
	fmt.Println("6 null text:", sdk.DecodeValue(map[string]any{"A": nil}, &ad), json.Unmarshal([]byte(`{"A":null}`), &ad))
	e := sdk.Errorf("X", "%w and %w", io.EOF, io.ErrUnexpectedEOF)
	fmt.Println("7 two %w:", errors.Is(e, io.EOF), errors.Is(e, io.ErrUnexpectedEOF))
	var sg struct{ Y int }
	fmt.Println("8 suggest:", sdk.DecodeValue(map[string]any{"x": 1.0}, &sg), sdk.Suggest("id", []string{"ip"}), sdk.Suggest("a", []string{"b"}))
	var i struct{ N int }
	fmt.Println("9 int32:", sdk.DecodeValue(map[string]any{"N": int32(3)}, &i), sdk.DecodeValue(map[string]any{"N": uint(3)}, &i))
	var i64 struct{ N int64 }
	fmt.Println("10 json.Number:", sdk.DecodeValue(map[string]any{"N": json.Number("9007199254740993")}, &i64), i64)
	fmt.Println("11 whole:", sdk.IsWholeTemplate("{{a}}}"), sdk.IsWholeTemplate(`{{ {"a": {"b": 1}} }}`), sdk.IsWholeTemplate(`{{ x ?? "}}" }}`))
	var mi map[int]string
	fmt.Println("12 map[int]:", sdk.DecodeValue(map[string]any{"abc": 1.0}, &mi))
	var bs struct{ B []byte }
	fmt.Println("13 base64:", sdk.DecodeValue(map[string]any{"B": "!!"}, &bs))
	var st struct{ S fmt.Stringer }
	fmt.Println("14 iface:", sdk.DecodeValue(map[string]any{"S": "x"}, &st))
	var ar struct{ A [2]int }
	fmt.Println("15 arr len:", sdk.DecodeValue(map[string]any{"A": []any{1.0}}, &ar))
	var ks struct{ Key string }
	fmt.Println("16 kelvin:", sdk.DecodeValue(map[string]any{"\u212aey": "v"}, &ks), ks)
	fmt.Println("17 keypath:", sdk.KeyPath("h", "x-y"), sdk.KeyPath("h", "a\nb"), sdk.KeyPath("h", ""), sdk.KeyPath("", "x.y"))
	fmt.Println("18 perm:", sdk.Permanent(fmt.Errorf("ctx: %w", sdk.RetryableErrorf("C", "m"))))
}
