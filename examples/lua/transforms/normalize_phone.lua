-- normalize_phone: rewrites a phone number in E.164 form (+<country code><number>).
--
-- Input: a record (the phone number is its `field`, default "phone") or the
-- number itself as a string. Config (ctx.config, all optional):
--   field               the record's field holding the number (default "phone")
--   defaultCountryCode  country code of numbers written without one (default "1")
--
--   "+44 (20) 7946-0018"   -> "+442079460018"   (has a country code)
--   "0044 20 7946 0018"    -> "+442079460018"   (00 international prefix)
--   "(415) 555-0134"       -> "+14155550134"    (national: the default code is added)
--   "020 7946 0018", code 44 -> "+442079460018" (a national trunk 0 is dropped)
--
-- A record without the field is returned unchanged; a number that is not
-- 8 to 15 digits long once normalised fails with INVALID_PHONE.
local config = ctx.config or {}
local field = config.field or "phone"
local cc = (tostring(config.defaultCountryCode or "1"):gsub("%D", ""))

local function normalize(raw)
  local s = tostring(raw):match("^%s*(.-)%s*$")
  local digits = (s:gsub("%D", ""))
  local e164
  if s:sub(1, 1) == "+" then
    e164 = digits
  elseif digits:sub(1, 2) == "00" then
    e164 = digits:sub(3)
  elseif cc == "1" and #digits == 11 and digits:sub(1, 1) == "1" then
    e164 = digits -- North American numbers are often written with their 1
  else
    e164 = cc .. (digits:gsub("^0", "", 1))
  end
  if #e164 < 8 or #e164 > 15 then
    error({code = "INVALID_PHONE", message = string.format("%q is not a phone number", s), retryable = false})
  end
  return "+" .. e164
end

if type(input) == "string" then
  return normalize(input)
end
if type(input) ~= "table" then
  error({code = "INVALID_INPUT", message = "normalize_phone: want a record or a string, got " .. type(input)})
end
local phone = input[field]
if phone == nil or phone == json.null or phone == "" then
  return input
end
input[field] = normalize(phone)
return input
