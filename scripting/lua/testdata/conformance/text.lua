-- conformance.text: the conformance transform of package core/coretest,
-- written in Lua. Its specification is in package core/coretest/reference;
-- every runtime must behave exactly as the compiled-in Go build does.

-- A table that came from a JSON array carries the runtime's array marker, a
-- locked metatable (getmetatable gives false); an object's table has none.
local function isarray(v)
  return type(v) == "table" and getmetatable(v) == false
end

local function invalid(message)
  error({code = "INVALID_INPUT", message = message})
end

if type(input) ~= "table" or type(input.op) ~= "string" then
  invalid("input must be an object with a string op")
end
local op = input.op
local config = ctx.config

if op == "echo" then
  return input.value
elseif op == "config" then
  return config
elseif op == "upper" then
  if type(input.text) ~= "string" then
    invalid("text must be a string")
  end
  return {text = string.upper(input.text)}
elseif op == "concat" then
  local items = input.items
  if not isarray(items) then
    invalid("items must be an array")
  end
  for i = 1, #items do
    if type(items[i]) ~= "string" then
      invalid("items[" .. tostring(i - 1) .. "] must be a string")
    end
  end
  local prefix, separator = "", ","
  if type(config) == "table" then
    if type(config.prefix) == "string" then prefix = config.prefix end
    if type(config.separator) == "string" then separator = config.separator end
  end
  return {text = prefix .. table.concat(items, separator)}
elseif op == "add" then
  if type(input.a) ~= "number" or type(input.b) ~= "number" then
    invalid("a and b must be numbers")
  end
  return {sum = input.a + input.b}
elseif op == "shape" then
  -- Empty tables are objects unless marked with json.array; json.null keeps
  -- a null where nil would leave a hole.
  return {
    emptyObject = {},
    emptyArray = json.array(),
    null = json.null,
    ["true"] = true,
    ["false"] = false,
    int = 42,
    negative = -7,
    float = 0.25,
    big = 9007199254740992,
    tiny = 1e-7,
    unicode = "héllo, 世界 🎉",
    nul = "a\0b",
    nested = {list = json.array({1, "two", true, json.null, {k = json.array()}})},
  }
elseif op == "fail" then
  local reason = input.reason
  if type(reason) ~= "string" then
    reason = ""
  end
  error({code = "CONFORMANCE_FAILURE", message = "failure requested: " .. reason, retryable = input.retryable == true})
elseif op == "block" then
  -- The runtime stops the script when the call's context ends.
  while true do end
end
invalid('unknown op "' .. op .. '"')
