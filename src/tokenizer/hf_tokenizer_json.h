// Facts about Hugging Face tokenizer.json pipelines shared by the reader and
// the writer: the split patterns of the pre-tokenizers leanlm knows, as
// tokenizer.json spells them.
#pragma once

#include <string_view>

namespace leanlm::hf {

// Split(Regex) patterns (JSON-decoded).
inline constexpr std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
inline constexpr std::string_view kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
inline constexpr std::string_view kNewlinePattern = R"([\r\n])";
inline constexpr std::string_view kLetterRunPattern = R"(\s?\p{L}+)";
inline constexpr std::string_view kPunctRunPattern = R"(\s?\p{P}+)";
inline constexpr std::string_view kCjkPattern = R"([一-龥ࠀ-一가-퟿]+)";
inline constexpr std::string_view kThreeDigitsPattern = "[0-9][0-9][0-9]";
inline constexpr std::string_view kDeepseekLlmLettersPrefix = R"(\s?[A-Za-zµÀ-Ö)";
inline constexpr std::string_view kDeepseekLlmLetters =
    R"(\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+)";
inline constexpr std::string_view kDeepseekLlmPunct = R"(\s?[!-/:-~！-／：-～‘-‟　-。]+)";
inline constexpr std::string_view kTrailingSpacePattern = R"(\s+$)";

// Added tokens that llama.cpp's converter makes control tokens even when
// tokenizer.json does not mark them special (does_token_look_special).
bool LooksSpecial(std::string_view text);

}  // namespace leanlm::hf
