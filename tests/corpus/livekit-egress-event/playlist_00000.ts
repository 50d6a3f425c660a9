G‘Pký]NâT±ÓP¥Fzhƒf0þ±ëxytCŒ¹Q8‘Pký]NâT±ÓP¥Fzhƒf0þ±ëxytCŒ¹Q8‘Pký]NâT±ÓP¥Fzhƒf0þ±ëxytCŒ¹Q8‘Pký]NâT±ÓP¥Fzhƒf0þ±ëxytCŒ¹Q8‘Pký]NâT±ÓP¥Fzhƒf0þ±ëxytCŒ¹Q8‘Pký]NâT±ÓP¥Fzhƒf0þ±ëxytG7Öœw²rÃŒõÈÒ
o¤og.FÃ5+Bff°z”i7Öœw²rÃŒõÈÒ
o¤og.FÃ5+Bff°z”i7Öœw²rÃŒõÈÒ
o¤og.FÃ5+Bff°z”i7Öœw²rÃŒõÈÒ
o¤og.FÃ5+Bff°z”i7Öœw²rÃŒõÈÒ
o¤og.FÃ5+Bff°z”i7Öœw²rÃŒõÈÒ
o¤og.FÃ5+Bff°