-- prepare_lead: the benchmark's transform, in Lua. The same as the built-in
-- operations and the WASM guest in prepare_lead/.
local function trim(s)
  return (string.match(s, "^%s*(.-)%s*$"))
end

local function title(s)
  return (string.gsub(string.lower(s), "(%w)(%w*)", function(first, rest)
    return string.upper(first) .. rest
  end))
end

local phone = string.gsub(input.phone or "", "%D", "")
local employees = input.employees or 0
local score = (employees >= 1000 and 40 or employees >= 100 and 25 or 10)
  + (input.source == "referral" and 30 or input.source == "partner" and 20 or 10)
  + (phone ~= "" and 10 or 0)

return {
  id = input.id,
  email = string.lower(trim(input.email)),
  name = title(input.firstName .. " " .. input.lastName),
  phone = phone,
  score = score,
}
