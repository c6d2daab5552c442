// luahealth runs Argo CD resource-customization Lua scripts (health.lua, actions) the way Argo CD runs the
// ones configured in argocd-cm: gopher-lua (Lua 5.1) with only the base, table and package libraries and a
// "safe" os (time and date), no string or math library, a 1 s timeout, `obj` set to the resource. It mirrors
// argo-cd util/lua/lua.go (runLua, ExecuteHealthLua): the library list, the quirk that the safe os is
// registered under the table library's name (so `os` is only there through `require("os")`), the conversion
// of the object into Lua values, the JSON encoding of the result, and Unknown for an invalid health status.
//
// Input (stdin): {"cases": [{"mode": "health"|"action"|"discovery", "script": "...", "obj": {...}}]}
// Output (stdout): [{"result": <the returned table as JSON>, "error": "..."}], one per case.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	luajson "layeh.com/gopher-json"
)

type testCase struct {
	Mode   string         `json:"mode"`
	Script string         `json:"script"`
	Obj    map[string]any `json:"obj"`
}

type outcome struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

var validHealth = map[string]bool{
	"Healthy": true, "Progressing": true, "Suspended": true, "Degraded": true, "Missing": true, "Unknown": true,
}

func main() {
	var input struct {
		Cases []testCase `json:"cases"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&input); err != nil {
		fmt.Fprintln(os.Stderr, "luahealth: reading cases from stdin:", err)
		os.Exit(2)
	}
	out := make([]outcome, 0, len(input.Cases))
	for _, c := range input.Cases {
		result, err := run(c)
		if err != nil {
			out = append(out, outcome{Error: err.Error()})
		} else {
			out = append(out, outcome{Result: result})
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(1)
	}
}

func run(c testCase) (json.RawMessage, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, openSafeOs},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return nil, err
		}
	}
	l.PreloadModule(lua.OsLibName, safeOsLoader)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("actionParams", l.CreateTable(0, 0))
	l.SetGlobal("obj", decodeValue(l, c.Obj))
	if err := l.DoString(c.Script); err != nil {
		return nil, err
	}
	ret := l.Get(-1)
	switch c.Mode {
	case "health":
		if ret.Type() == lua.LTNil {
			return json.RawMessage(`{}`), nil
		}
		if ret.Type() != lua.LTTable {
			return nil, fmt.Errorf("expect table output from Lua script, not %s", ret.Type())
		}
		encoded, err := luajson.Encode(ret)
		if err != nil {
			return nil, err
		}
		var hs struct {
			Status  string `json:"status,omitempty"`
			Message string `json:"message,omitempty"`
		}
		if string(encoded) != "[]" { // an empty table encodes as an array: Argo reads it as an empty status
			if err := json.Unmarshal(encoded, &hs); err != nil {
				return nil, err
			}
			if !validHealth[hs.Status] {
				hs.Status, hs.Message = "Unknown", "Lua returned an invalid health status"
			}
		}
		return json.Marshal(hs)
	case "action", "discovery":
		if ret.Type() != lua.LTTable {
			return nil, fmt.Errorf("expect table output from Lua script, not %s", ret.Type())
		}
		return luajson.Encode(ret)
	}
	return nil, fmt.Errorf("unknown mode %q", c.Mode)
}

// decodeValue converts a JSON-decoded value into Lua values as Argo CD does (arrays become 1-based tables).
func decodeValue(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(decodeValue(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), decodeValue(l, item))
		}
		return tbl
	}
	return lua.LNil
}

var osFuncs = map[string]lua.LGFunction{"time": osTime, "date": osDate}

// openSafeOs registers the safe functions under the *table* library's name, exactly as Argo CD does; the
// global `os` therefore does not exist and scripts must use `local os = require("os")`.
func openSafeOs(l *lua.LState) int {
	l.Push(l.RegisterModule(lua.TabLibName, osFuncs))
	return 1
}

func safeOsLoader(l *lua.LState) int {
	l.Push(l.SetFuncs(l.NewTable(), osFuncs))
	return 1
}

func osTime(l *lua.LState) int {
	l.Push(lua.LNumber(time.Now().Unix()))
	return 1
}

// osDate supports what resource actions use: an optional leading "!" (UTC) and %Y %m %d %H %M %S %y.
func osDate(l *lua.LState) int {
	t := time.Now()
	format := "%c"
	if l.GetTop() >= 1 {
		format = l.CheckString(1)
	}
	if strings.HasPrefix(format, "!") {
		t, format = t.UTC(), format[1:]
	}
	replacer := strings.NewReplacer(
		"%Y", t.Format("2006"), "%m", t.Format("01"), "%d", t.Format("02"),
		"%H", t.Format("15"), "%M", t.Format("04"), "%S", t.Format("05"), "%y", t.Format("06"),
		"%c", t.Format("02 Jan 06 15:04 MST"),
	)
	l.Push(lua.LString(replacer.Replace(format)))
	return 1
}
