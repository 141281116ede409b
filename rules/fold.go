package rules

import (
	"unicode"
	"unicode/utf8"
)

// homoglyphs maps Cyrillic, Greek and a few other letters that look Latin
// to the Latin letter they pass for. Lower case only: text is lowered first.
var homoglyphs = map[rune]rune{
	// Cyrillic
	'а': 'a', 'в': 'b', 'е': 'e', 'ё': 'e', 'і': 'i', 'ї': 'i', 'ј': 'j',
	'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c', 'т': 't',
	'у': 'y', 'х': 'x', 'ѕ': 's', 'ԁ': 'd', 'һ': 'h', 'ӏ': 'l', 'ԛ': 'q',
	'ԝ': 'w', 'ү': 'y', 'ɡ': 'g', 'ı': 'i', 'ɑ': 'a',
	// Greek
	'α': 'a', 'β': 'b', 'γ': 'y', 'ε': 'e', 'η': 'n', 'ι': 'i', 'κ': 'k',
	'μ': 'u', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'u', 'χ': 'x',
	'ω': 'w', 'ϲ': 'c', 'ϳ': 'j',
	// Armenian
	'օ': 'o', 'ս': 'u', 'ց': 'g', 'հ': 'h', 'ո': 'n',
}

// latinLetters folds Latin letters that carry no combining mark to strip
// (so NFD leaves them alone) to their plain form.
var latinLetters = map[rune]string{
	'đ': "d", 'ð': "d", 'ø': "o", 'ł': "l", 'ß': "ss", 'æ': "ae", 'œ': "oe",
	'þ': "th", 'ħ': "h", 'ŧ': "t", 'ƀ': "b", 'ɨ': "i", 'ʉ': "u",
}

// leet maps the digits and symbols that stand in for letters inside words.
var leet = map[rune]rune{
	'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', '$': 's',
}

// traditional maps Traditional Chinese (and a few Japanese shinjitai)
// characters to their Simplified forms. It covers the characters that
// wildlife-trade terms and their traps use, not the whole script; terms and
// text go through the same table, so a character missing here still matches
// itself. 鼈 is left alone on purpose: Japanese 鼈甲 is hawksbill shell,
// while Chinese 鳖甲 is softshell-turtle shell, a legal medicine.
var traditional = buildTraditional(
	"龜龟亀龟鱗鳞鶴鹤頂顶紅红鸚鹦鵡鹉膽胆鯪鲮鯉鲤豬猪蟲虫鐲镯鳥鸟貓猫車车硨砗" +
		"膠胶魚鱼頭头殼壳龍龙竜龙條条塊块錢钱貨货掛挂墜坠飾饰擺摆藥药薬药鷹鹰懶懒" +
		"陸陆輻辐鋼钢雙双筆笔桿杆紋纹齒齿歯齿標标萬万舊旧瑪玛獸兽獣兽獅狮環环裝装" +
		"黃黄鰭鳍鱷鳄變变樹树製制類类顏颜與与顆颗實实圖图図图畫画貼贴紙纸絨绒羅罗" +
		"門门櫃柜來来說说們们這这個个為为買买賣卖売卖價价価价貴贵號号長长兩两隻只" +
		"麗丽葉叶東东國国溫温涼凉質质爾尔僅仅歲岁島岛灣湾廣广漢汉當当雞鸡鶏鸡鴨鸭" +
		"鵝鹅鴿鸽鵰雕獵猎槍枪彈弹蠑蝾鱉鳖獺獭麅狍鷺鹭鸛鹳鳳凤鷲鹫鵑鹃鶯莺鸝鹂繡绣" +
		"飲饮補补腎肾壯壮陽阳湯汤熱热風风濕湿氣气瀉泻觀观項项鏈链鑰钥煙烟壺壶將将" +
		"傳传購购寶宝證证証证書书無无體体養养飼饲餵喂雛雏窩窝馴驯親亲點点現现發发" +
		"郵邮運运費费廠厂壓压網网衛卫護护種种動动鯊鲨鰻鳗參参蠔蚝蝦虾鮑鲍鵬鹏鵲鹊" +
		"鴉鸦鴛鸳鴦鸯驢驴馬马騾骡貍狸髮发腦脑腸肠臍脐綿绵樂乐楽乐鐵铁鉄铁銀银銅铜" +
		"鑽钻錶表鏡镜邊边側侧夾夹蠍蝎螞蚂蟻蚁蠶蚕蟬蝉蛻蜕乾干曬晒鹽盐醃腌滷卤燉炖" +
		"鍋锅甕瓮盤盘贗赝複复鑑鉴鑒鉴兒儿絵绘蘇苏猶犹鳩鸠鶉鹑鵪鹌鷗鸥鵜鹈鶻鹘鷂鹞" +
		"鸕鸬鷸鹬鸞鸾鷓鹧鴣鸪鵠鹄鶿鹚鶇鸫鸚鹦鴞鸮貓猫獴獴齡龄歡欢喚唤張张閉闭鎖锁" +
		"紅红綠绿藍蓝線线絲丝纏缠織织編编鋒锋鑲镶嵌嵌擊击臺台檯台麼么們们麵面廳厅",
)

func buildTraditional(pairs string) map[rune]rune {
	rs := []rune(pairs)
	m := make(map[rune]rune, len(rs)/2)
	for i := 0; i+1 < len(rs); i += 2 {
		if rs[i] != rs[i+1] {
			m[rs[i]] = rs[i+1]
		}
	}
	return m
}

// substringScript reports whether r belongs to a script written without
// spaces between words (Han, kana, Hangul, Thai, …). Terms in these scripts
// match as substrings; terms in other scripts match whole words.
func substringScript(r rune) bool {
	if r < 0x0E00 {
		return false
	}
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana,
		unicode.Hangul, unicode.Thai, unicode.Lao, unicode.Khmer,
		unicode.Myanmar, unicode.Bopomofo) || r == 'ー' || r == '々'
}

// keepsMarks reports whether a base letter keeps its combining marks: the
// marks of Thai, kana and similar scripts are part of the spelling, while
// those on Latin, Greek and Cyrillic letters are accents folded away.
func keepsMarks(r rune) bool {
	return r >= 0x0E00 && !unicode.In(r, unicode.Latin, unicode.Greek, unicode.Cyrillic, unicode.Common, unicode.Inherited)
}

// invisible reports characters removed before anything else: zero-width
// spaces and joiners, the soft hyphen, the byte-order mark, bidirectional
// controls and variation selectors.
func invisible(r rune) bool {
	switch {
	case r == 0x00AD, r == 0x180E, r == 0xFEFF, r == 0x034F:
		return true
	case r >= 0x200B && r <= 0x200F, r >= 0x202A && r <= 0x202E,
		r >= 0x2060 && r <= 0x2069, r >= 0xFE00 && r <= 0xFE0F,
		r >= 0xE0100 && r <= 0xE01EF:
		return true
	}
	return false
}

// joinSeparator reports the characters that split a word into single
// letters ("i v o r y", "i.v.o.r.y", "i-v-o-r-y").
func joinSeparator(r rune) bool {
	switch r {
	case ' ', '.', '-', '_', '*', '·', '•', '・', '/', '|', '~', '+':
		return true
	}
	return false
}

// isLetter reports a letter of a script that separates words with spaces.
func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r) && !substringScript(r)
}

// isWord reports a rune that continues a word: a letter of a spaced script
// or a digit.
func isWord(r rune) bool {
	return classOf(r)&(cLetter|cDigit) != 0
}

func isLeet(r rune) bool {
	switch r {
	case '0', '1', '3', '4', '5', '7', '@', '$':
		return true
	}
	return false
}

// separator reports runes that only separate words: spaces, punctuation,
// math and modifier symbols, currency signs and controls.
func separator(r rune) bool {
	if r < utf8.RuneSelf {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
	}
	return unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsControl(r) ||
		unicode.In(r, unicode.Sm, unicode.Sk, unicode.Sc)
}

// emoji reports pictographs and other symbols that sellers put inside or
// between letters.
func emoji(r rune) bool {
	return r > 0x2000 && unicode.Is(unicode.So, r)
}
