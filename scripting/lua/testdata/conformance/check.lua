-- conformance.check: the conformance validator of package core/coretest,
-- written in Lua. Its specification is in package core/coretest/reference;
-- every runtime must behave exactly as the compiled-in Go build does.

-- A table that came from a JSON array carries the runtime's array marker, a
-- locked metatable (getmetatable gives false); an object's table has none.
local function isarray(v)
  return type(v) == "table" and getmetatable(v) == false
end

-- absent reports a missing field or a JSON null.
local function absent(v)
  return v == nil or v == json.null
end

if type(input) ~= "table" or isarray(input) then
  return {{path = "", message = "must be an object"}}
end

local min = 0
if type(ctx.config) == "table" and type(ctx.config.minAge) == "number" then
  min = ctx.config.minAge
end

local problems = {}
local function add(path, message)
  problems[#problems + 1] = {path = path, message = message}
end

local name = input.name
if absent(name) then
  add("name", "is required")
elseif type(name) ~= "string" or name == "" then
  add("name", "must be a non-empty string")
end

local age = input.age
if absent(age) then
  add("age", "is required")
elseif type(age) ~= "number" then
  add("age", "must be a number")
elseif age < min then
  add("age", "must be at least " .. tostring(min))
end

local tags = input.tags
if not absent(tags) then
  if not isarray(tags) then
    add("tags", "must be an array")
  else
    for i = 1, #tags do
      if type(tags[i]) ~= "string" then
        add("tags[" .. tostring(i - 1) .. "]", "must be a string")
      end
    end
  end
end

-- An empty table would be an object, which is not a verdict: accept with true.
if #problems == 0 then
  return true
end
return problems
