"""What clients of each legal field write, in their own words, written for this project: the legal terms
of the field (`terms`, also the model's lexicon features), the situations clients describe (`situations`),
the short questions they type as they are (`questions`) and the same in English (`english`).

The generator (`generator`) turns these into labelled questions the way clients type them. An entry says
something a client of that field would say; an entry that could as well belong to another field stays out.

Where finance and company meet, the line is the one a lawyer draws between raising money and the company
itself: money lent, guaranteed or raised is finance — loans, guarantees and security (a pledge of shares
too), bills, leasing and factoring, bonds, securities and listing, funds, and financing rounds with their
investment terms (valuation, 对赌, investors' buy-back, liquidation preference); the company and its members
are company — incorporation, capital contributions, shareholders' rights and disputes, equity transfer,
equity incentives, governance, restructuring, deregistration.

A question goes by the legal nature of the matter, not by who asks: a loan is finance and a tenancy is
real_estate between private individuals too (a friend's unpaid loan, 民间借贷, a student's deposit the landlord
keeps); `other` keeps what no field covers — family and inheritance (a spouse's or a late parent's debts
too), consumer disputes, fraud and crime (a loan an impostor took out in one's name). Labour arbitration
(劳动仲裁), and the suit that follows its award, is the labour field's own procedure: labour, not litigation.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldWords:
    terms: tuple[str, ...]
    situations: tuple[str, ...]
    questions: tuple[str, ...]
    english: tuple[str, ...]


def _words(terms: str, situations: str, questions: str, english: str) -> FieldWords:
    """Terms are separated by spaces, everything else by `|` (one entry may hold spaces)."""

    def entries(text: str) -> tuple[str, ...]:
        return tuple(e.strip() for e in text.split("|") if e.strip())

    return FieldWords(tuple(terms.split()), entries(situations), entries(questions), entries(english))


LEXICON: dict[str, FieldWords] = {
    "labour": _words(
        "劳动合同 试用期 社保 五险一金 公积金 加班费 工资 年假 年休假 经济补偿金 经济补偿 赔偿金 竞业限制 "
        "工伤 工伤认定 劳动仲裁 辞退 开除 裁员 离职 辞职 调岗 降薪 产假 病假 劳务派遣 末位淘汰 调休 "
        "员工手册 劳动关系 最低工资 年终奖 离职证明 无固定期限 非全日制 退休返聘 实习生 双倍工资 N+1 "
        "员工 入职 劳动者 用人单位 考勤 旷工 加班 工作时间 HR 临时工 学徒 钟点工 保安 厨师 店员 文员 工人 服务期 续签 规章制度"
        " 欠薪 炒鱿鱼 劳动局 工资条 底薪 提成 绩效 五险 辞职信 离职手续 解除劳动合同 代通知金"
        " 哺乳期 孕期 三期 职工 请假 事假 婚假 值班 排班 打卡 灵活用工 小时工 社保基数 劳动监察",
        "公司不给交社保|老板拖欠工资两个月了|试用期被无故辞退|HR让我签自愿离职申请|天天加班到十点不给加班费"
        "|单位一直不签劳动合同|怀孕后被调岗降薪|上班路上被车撞了|公司说我绩效不合格要辞退我"
        "|离职后公司不给开离职证明|签了竞业协议公司一分补偿没给|公司裁员只给一个月工资|员工连续旷工三天"
        "|员工上班时间摔伤了|公司想辞退一个长期病假的员工|实习生在公司受伤了|offer发了又被公司撤回"
        "|说好的年终奖不发了|公司让员工自愿放弃社保|劳动合同到期公司不续签|社保按最低基数交的"
        "|员工要求补缴前几年的社保|老员工要求签无固定期限合同|工资被扣了一半说是罚款|公司强制996"
        "|公司搬到外地员工不愿意去|休完产假回来岗位没了|试用期被延长了两次|员工离职不做工作交接"
        "|被公司逼着主动辞职|加班不给调休也不给钱|公司用劳务派遣代替正式工|领导口头通知我明天不用来了"
        "|公司拖着不给发最后一个月工资|员工在外地出差期间猝死|入职一年了公司还没给上五险一金"
        "|HR说试用期不交社保|员工手册规定迟到三次就开除"
        "|员工入职没签合同干了三个月|老板说这个月工资下个月一起发|员工被客户投诉了想让他走人"
        "|公司要求员工签自愿加班承诺书|HR把员工的工资条算错了|员工请婚假公司不批"
        "|员工休完年假回来就提离职|员工不服从调岗安排|员工天天迟到早退|员工住在宿舍里受了伤"
        "|员工骑电动车上班路上出了事故|离职员工说我们扣了他的提成|公司要把全员转成外包"
        "|小时工在店里干活受伤|员工跳槽到了竞争对手那里|员工考勤造假被发现了|员工在群里泄露工资被辞退"
        "|公司把员工的底薪降了|工厂停工放假期间工资怎么发|员工孕检请假被扣了工资|员工试用期请了两周病假"
        "|新来的员工简历造假|员工被劳动监察投诉了|店长口头说辞退但没书面通知"
        "|公司每个月按最低工资交社保基数|员工要求把年终奖折算进工资"
        "|员工合同还没到期就要走|签合同的时候没写工资多少|员工说合同上的签名不是他签的|跟员工签的是劳务合同不是劳动合同"
        "|新员工要求先签合同再上班|续签合同的时候公司要降薪|合同没到期公司就要裁掉他|员工合同到期了不想续"
        "|工人在厂里干了三年一直没签合同|保安一个月只休两天|学徒干了半年没给过工资",
        "试用期可以约定几个月|试用期最长多久|加班费怎么计算|年假有几天|经济补偿金怎么算|竞业限制补偿标准是多少"
        "|劳动仲裁要多久|工伤怎么认定|工伤赔偿标准是什么|辞职要提前多久通知|被辞退能拿N+1吗"
        "|不签劳动合同能要双倍工资吗|社保断缴有什么影响|产假有多少天|病假工资怎么发"
        "|劳务派遣和劳动合同有什么区别|退休返聘要签劳动合同吗|员工手册有法律效力吗|末位淘汰合法吗"
        "|公积金必须交吗|非全日制用工要交社保吗|试用期工资能打几折|周末加班是两倍工资吗"
        "|裁员要提前通知多久|离职了年假没休能折现吗|孕期能被辞退吗|试用期内辞职要提前几天"
        "|三期员工能辞退吗|被开除有没有补偿|代通知金是什么|试用期辞退要给补偿吗|提成算不算工资"
        "|事假可以不发工资吗|工资最晚几号发|加班费能用调休抵吗|工作满一年才有年假吗|劳动合同必须签几年"
        "|工伤期间工资照发吗|婚假有几天|陪产假几天|离职证明必须给吗|扣工资有上限吗"
        "|单位不给交公积金合法吗|兼职要签劳动合同吗|劳动监察能管哪些事|试用期可以不签合同吗"
        "|员工自己辞职有经济补偿吗|值班和加班有区别吗|社保基数怎么定"
        "|员工合同一般签几年|和员工签合同要注意什么|员工违反劳动合同要赔钱吗"
        "|招人要先签合同吗|合同里能约定员工不许辞职吗|劳务合同和劳动合同哪个好|服务期没满员工走了要赔吗",
        "Can we dismiss an employee during probation?|How much severance do we owe a laid-off employee?"
        "|Is unpaid overtime legal in China?|My employer has not paid my social insurance"
        "|Do we have to pay non-compete compensation to a former employee?|How long is maternity leave?"
        "|An employee was injured at work, what should we do?|Can HR force me to resign?"
        "|We want to lay off 30 staff, what is the procedure?|Is a 996 work schedule legal?"
        "|How long can a probation period be?|Can my boss cut my salary without my consent?"
        "|Do we have to sign a written labour contract?"
        "|Can we deduct wages for being late?"
        "|Does an intern need social insurance?"
        "|Can an employee on maternity leave be dismissed?",
    ),
    "contract": _words(
        "合同 违约金 违约 定金 订金 解除合同 合同无效 格式条款 不可抗力 履行 补充协议 框架协议 采购合同 "
        "买卖合同 供货合同 服务合同 合作协议 保密协议 NDA 验收 尾款 货款 付款期限 合同审查 合同起草 "
        "违约责任 合同变更 合同终止 不安抗辩权 情势变更 要约 承诺 电子合同 合同章 骑缝章 代理协议 "
        "经销合同 加工承揽 质保金 预付款 对赌 合同条款 甲方 乙方"
        " 合同纠纷 合同违约 签约 发货 交货 收货 结款 对账单 账期 供应商 经销商 附件 回签 买方"
        " 卖方 独家代理 违约方 守约方 解约 单方解除 显失公平 合同价款",
        "对方收了预付款不发货|客户拖欠货款半年不付|供应商交货延迟了两个月|对方单方面解除合同"
        "|合同没盖公章只有签字|甲方验收一直拖着不签字|对方说合同里的违约金太高不认|合作方违反保密协议泄露了报价"
        "|签了框架协议对方不下单|客户以质量问题拒付尾款|合同写错了金额|对方用微信确认的订单现在不认了"
        "|合作方违反排他约定找了我们的竞争对手|原材料涨价想调整合同价格|对方收了定金反悔了"
        "|我们收了客户订金客户又不要了|经销商压货不付款|软件外包项目做完了对方不验收|质保期过了质保金还不退"
        "|对方发来的合同全是格式条款|乙方交付的设备有质量问题|代理商合同到期还在用我们的名义卖货"
        "|合同约定的交货时间赶不上了|对方要求签补充协议降价|电子合同没有手写签名|合同里没写付款时间"
        "|甲方要求我们无限期延长服务|合同对方公司被注销了"
        "|客户签收了货物又说有质量问题要退|供应商要求先付全款才发货|对方把合同里的单价偷偷改了"
        "|代理商没完成年度销量|合同签完对方一直联系不上|货发过去对方说数量不对|合作方没按约定时间交付方案"
        "|对方以资金困难为由拖着不结款|我们按时交了货对方账期一拖再拖|合同上的签字不是对方本人签的"
        "|对方说合同条款显失公平要撤销|客户要求我们赔偿他的利润损失|对方拿着一份我们没签过的合同来要钱"
        "|合同写的价格含不含税没写清楚|对方违约后我们重新找人做多花了钱|对方把我们的报价单当成了合同"
        "|活动策划公司没按合同办活动|物流公司把我们的货送丢了|客户验收合格了还是不结款"
        "|对方在合同履行期间涨价|经销商跨区域窜货|对方没按合同约定的规格生产",
        "违约金最高能约定多少|定金和订金有什么区别|合同没盖章有效吗|电子合同有法律效力吗|口头合同算数吗"
        "|解除合同要怎么通知对方|格式条款无效的情形有哪些|不可抗力能免责吗|合同审查一般看哪些条款"
        "|逾期付款违约金怎么算|补充协议和原合同冲突以哪个为准|合同到期自动续约有效吗"
        "|骑缝章没盖合同有效吗|合同诈骗和合同纠纷怎么区分|签合同要注意什么|保密协议要写哪些内容"
        "|采购合同里验收条款怎么写|预付款不退算违约吗"
        "|合同没写违约金还能索赔吗|合同可以单方面解除吗|口头约定的加价算数吗|合同签了能反悔吗"
        "|对方违约能要多少赔偿|合同附件有没有法律效力|合同的有效期怎么写|对账单能当合同用吗"
        "|合同原件丢了怎么办|合同被对方单方面修改有效吗|传真件合同有效吗|合同期满自动终止吗"
        "|预付款和定金一样吗|违约金和赔偿金能一起要吗|解约通知书怎么写|对方违约我们能暂停付款吗"
        "|合同里的保密条款怎么写|一份合同两个版本以哪个为准|合同签字页和正文分开签有效吗"
        "|代理协议能约定最低销量吗",
        "Is a contract valid without a company chop?|Our supplier delivered late, can we claim the penalty?"
        "|The customer refuses to pay the balance under the sales contract|How high can a liquidated damages clause be?"
        "|Can we terminate the service agreement early?|Please review our distribution agreement"
        "|Is an e-signature binding in China?|The other party breached the NDA, what can we claim?"
        "|Is a verbal agreement enforceable?|What should a software development contract include?"
        "|Our buyer returned the goods without a reason"
        "|The distributor missed its sales target under our agreement"
        "|Is a scanned signed contract valid?"
        "|Can we suspend payment if the supplier breaches?",
    ),
    "company": _words(
        "股东 股权 股权转让 注册资本 认缴 实缴 出资 公司章程 股东会 董事会 监事 法定代表人 公司注销 "
        "公司设立 注册公司 营业执照 分公司 子公司 股权激励 期权 持股平台 代持 隐名股东 小股东 大股东 "
        "分红 增资 减资 合并 分立 公司治理 公司解散 清算 VIE 股东会决议 "
        "工商变更 一人公司 合伙企业 ESOP 创始人 CEO 董监高 关联交易 公司控制权"
        " 股份 占股 入股 法人代表 工商 章程 执照 股权结构 控股 参股 董事 总经理 公章 年报 注销"
        " 吊销 经营范围 注册地址 实际控制人 股权代持 出资额 股东名册 认缴制 股东协议"
        " 合伙人 退股 干股 技术入股 执行董事 监事会 忠实义务 股份有限公司 外商独资 清算组 限制性股票 行权 股权比例 公司僵局 优先购买权 知情权 查账",
        "大股东不让小股东查账|合伙人要退股|股东一直不实缴出资|想给核心员工发期权"
        "|两个股东各占一半谁也不听谁|法人想辞职公司不给变更|朋友替我代持股份现在不认账|公司要注销但还有欠款"
        "|股东私下把公司业务转到自己公司|创始人想保住公司控制权|想开一家外资公司"
        "|公司准备减资|股东会开会没通知我|公司赚钱了大股东不分红|想把股权转让给外人|挂名当了法人现在公司出事了"
        "|公司要增资老股东不同意|想设立分公司还是子公司|联合创始人离职带走了股份|天使投资人要一票否决权"
        "|公司章程想约定同股不同权|股东抽逃了出资|老板用公司的钱还个人的债"
        "|大股东要把我们小股东踢出去|公司章程是网上随便下载的模板|合伙人拿公司的钱买了自己的车"
        "|投资人进来后要改董事会席位|公司的实际控制人想换人|股东离婚了要分公司的股份"
        "|公司要把注册地址迁到外地|公司年报没报被列入经营异常|老股东不同意新股东进来"
        "|想把个体户转成有限公司|合伙人偷偷注册了一家同类公司|投资款打进来了股份还没登记"
        "|公司一直亏损股东想散伙|法人代表因为公司的事被限制出境|员工期权成熟了公司不给兑现"
        "|想收购一家小公司|股东会上大家意见不一致投票怎么算|股东把公司账上的钱借走不还"
        "|公司的营业执照被吊销了|技术合伙人要求多占股份|想设一个控股公司管几个子公司"
        "|股东名册和工商登记的不一样",
        "注册公司需要什么材料|认缴出资到期不缴有什么后果|股权转让要交哪些税|小股东有哪些权利"
        "|公司章程可以自己写吗|法定代表人要承担什么责任|一人有限公司股东要承担连带责任吗"
        "|股权激励怎么设计|期权和限制性股权有什么区别|代持协议有效吗|公司简易注销的条件"
        "|股东会决议怎么才算有效|有限公司和股份公司有什么区别|新公司法认缴期限是几年|分公司能独立签合同吗"
        "|股东优先购买权怎么行使|VIE架构有什么风险|董监高有哪些义务"
        "|股东最少几个人|注册资本越大越好吗|一个人能开几家公司|股东会和董事会有什么区别"
        "|法人代表要负什么责任|公司章程能改吗|入股要签什么协议|股东能不能被开除|干股合法吗"
        "|技术入股怎么算股份|有限公司股东以什么为限承担责任|公司注销要登报吗|经营异常怎么移出"
        "|实际控制人和法人可以不是一个人吗|股东可以随时撤资吗|小公司需要设董事会吗"
        "|变更股东要去哪办|股东协议和公司章程哪个优先|注册地址能用住宅吗",
        "How do we issue stock options to employees?|Can a minority shareholder inspect the books?"
        "|What do we need to set up a WFOE in Shanghai?|Our co-founder left, can we buy back his shares?"
        "|How does the new Company Law change capital contributions?|Is a nominee shareholding agreement valid?"
        "|How do we deregister a company?"
        "|What are the duties of a director?|How do we transfer equity to a new shareholder?"
        "|How many shareholders do we need to register a company?"
        "|Can a shareholder withdraw capital?"
        "|What is the difference between a legal representative and a director?"
        "|Do we need a board of directors for a small company?",
    ),
    "ip": _words(
        "商标 商标注册 商标侵权 专利 发明专利 实用新型 外观设计 著作权 版权 软件著作权 软著 商业秘密 "
        "侵权 抢注 驰名商标 商标异议 专利无效 专利许可 知识产权 仿冒 盗版 山寨 抄袭 域名 品牌 logo "
        "字体 图片版权 音乐版权 源代码 开源协议 GPL 商标续展 专利申请 维权 假货 IP"
        " 仿品 盗图 侵犯版权 商标权 专利权 版权登记 著作权登记 商标局 知识产权局 发明 外观 原创"
        " 授权 许可使用 品牌名 源码 技术秘密 搬运 洗稿 注册商标 商标号 撤三 模具 招牌",
        "我们的商标被人抢注了|网店卖我们品牌的假货|竞争对手抄袭我们的产品外观|离职员工带走了源代码"
        "|公众号文章被别人洗稿|我们用的图片被告侵权|别人用了我们的logo|竞品的专利跟我们撞了|我们的APP被人山寨了"
        "|商标快到期了|收到律师函说我们侵犯了专利|软件用了开源代码想闭源商用|外包公司做的设计版权归谁"
        "|展会上发现有人仿冒我们的产品|我们的品牌名被注册成了域名|淘宝上有人盗用我们的产品图|员工发明的技术归谁"
        "|对方用近似商标卖同类产品|短视频用了别人的背景音乐|我们的客户名单被前员工拿走了"
        "|我们原创的视频被人搬运到别的平台|合作工厂用我们的模具给别人生产|竞品把我们的说明书一字不改照抄"
        "|有人在闲鱼卖我们的盗版课程|前员工把我们的技术资料发给了新东家|别人把我们的品牌名印在他们的产品上"
        "|找的设计师用了网上的素材被告|直播间用了没买授权的背景图|我们的游戏被人做了私服"
        "|同行在宣传里用了我们的专利技术|我们的小说被改编成了短剧|加盟商合同结束还在用我们的招牌"
        "|想给新产品起名怕撞别人的商标|小程序的界面被人照抄|我们的原创课程被人录屏卖"
        "|竞争对手注册了跟我们很像的店名|合作伙伴在海外用了我们的品牌|我们的培训教材被复印了到处卖",
        "商标注册要多久|商标注册选哪些类别|专利申请流程是什么|实用新型和发明专利有什么区别|软著怎么申请"
        "|商业秘密怎么保护|字体侵权怎么赔偿|商标被抢注怎么办|专利侵权赔偿标准|著作权登记有必要吗"
        "|外观设计专利保护几年|商标可以转让吗|开源协议商用要注意什么|驰名商标怎么认定|AI生成的图片有版权吗"
        "|商标怎么查有没有被注册|专利要交年费吗|商标能注册几个类别|侵犯商标权要赔多少"
        "|专利过期了还受保护吗|商标和商号有什么区别|软著和专利有什么区别|作品没登记有版权吗"
        "|商业秘密被侵犯怎么证明|怎么判断有没有侵犯专利|发明专利要花多少钱|能不能用人名注册商标"
        "|网上的图片怎么避免侵权|商标撤三是什么|专利可以卖吗|版权保护期多少年|商标续展什么时候办"
        "|二创视频算侵权吗",
        "Someone registered our trademark in China first|How long does a patent application take?"
        "|A competitor copied our product design|Do we own the copyright in code written by a contractor?"
        "|How do we take down counterfeit listings on Taobao?|We received a patent infringement letter"
        "|Is our logo protected without registration?|A former employee took our trade secrets"
        "|Can we use GPL code in a commercial product?|How do we register software copyright?"
        "|Can we register a trademark for our app name?"
        "|Someone copied our website design"
        "|Is our recipe a trade secret?"
        "|How long does copyright protection last?",
    ),
    "tax": _words(
        "税 纳税 增值税 企业所得税 个人所得税 个税 发票 专票 普票 进项税 销项税 税务稽查 税务局 补税 "
        "滞纳金 偷税 逃税 税收优惠 小规模纳税人 一般纳税人 税率 汇算清缴 印花税 契税 土地增值税 "
        "研发费用加计扣除 高新技术企业 出口退税 虚开发票 税务登记 核定征收 查账征收 个体户 税务筹划 "
        "纳税申报 税负 VAT 全电发票 代扣代缴"
        " 报税 开票 税点 抵扣 红冲 进项 交税 缴税 退税 免税 减免 税局 金税四期 税控 所得税"
        " 申报 税号 做账 公转私 私户 专用发票 普通发票 视同销售 财税",
        "税务局通知我们补税|收到税务稽查通知|供应商不给开专票|被认定虚开发票|公司少报了收入"
        "|个税汇算要补好几千|想把公司从一般纳税人转成小规模|出口货物退税一直没批下来|发票开错了要作废"
        "|股东分红要交多少税|公司注销前要清税|员工工资拆成报销避税|收到了税务局的滞纳金通知"
        "|高新企业资格被取消要补税|买的发票被查出来是假的|老板用个人卡收公司货款|个体户核定征收取消了"
        "|进项税发票认证过期了|税务局说我们账目不清要核定"
        "|客户不要发票想便宜点|会计离职了几个月没报税|金税四期上线了担心被查|供应商开的发票品名跟实物不符"
        "|客户要求我们多开点发票|税局说我们的发票异常要进项转出|公司要申请高新认定|跨境电商的货怎么报税"
        "|公司收到了政府补贴要不要交税|公司买了辆车能抵扣吗|老板让财务做两套账|年底利润太高想少交点税"
        "|公司给客户送礼品要不要视同销售|客户开来的发票是作废的|电商平台把我们的销售数据报给了税局"
        "|个人独资企业核定征收被取消了",
        "增值税税率是多少|小规模纳税人怎么交税|企业所得税怎么算|个税专项附加扣除有哪些|发票丢了怎么办"
        "|专票和普票有什么区别|滞纳金怎么计算|研发费用加计扣除比例是多少|高新技术企业有哪些税收优惠"
        "|印花税哪些合同要交|税务稽查一般查什么|虚开发票会判刑吗|年终奖个税怎么算|核定征收和查账征收哪个好"
        "|个人独资企业怎么交税|跨年的发票能入账吗"
        "|开票要交多少税|小规模一个季度多少不用交增值税|专票能抵多少|发票能跨月开吗|什么是进项税"
        "|税务登记要带什么|做账一定要有发票吗|个人代开发票要交哪些税|企业所得税多久交一次|退税多久到账"
        "|免税收入有哪些|怎么查发票真假|增值税怎么抵扣|公司车辆的费用能抵税吗|财务外包靠谱吗"
        "|视同销售是什么意思|税号在哪里查|残保金要交吗",
        "What is the VAT rate for software services?|How is corporate income tax calculated in China?"
        "|We received a notice from the tax bureau to pay back taxes|Can we deduct R&D expenses twice?"
        "|How do we get an export VAT refund?|What are the tax incentives for high-tech enterprises?"
        "|Our supplier refuses to issue a special VAT invoice|Do foreigners pay individual income tax on bonuses?"
        "|What is the withholding tax on dividends paid abroad?|We lost a VAT invoice, what now?"
        "|Our accountant missed the tax filing deadline"
        "|How do I issue a VAT invoice as a small taxpayer?"
        "|Are government subsidies taxable?"
        "|Can we deduct company car expenses?",
    ),
    "litigation": _words(
        "起诉 诉讼 上诉 仲裁 一审 二审 再审 判决 裁定 调解 法院 传票 开庭 证据 举证 执行 强制执行 "
        "财产保全 诉讼费 立案 管辖 答辩 被告 原告 失信 老赖 限高 诉讼时效 仲裁裁决 撤销仲裁 律师费 "
        "代理词 送达 缺席判决 执行异议 拍卖 冻结 查封 反诉 公证"
        " 打官司 官司 判决书 案子 案件 执行局 法官 诉状 起诉状 应诉 庭审 证人 质证 司法鉴定"
        " 上诉状 被执行人 申请执行 败诉 胜诉 撤诉 发回重审 诉前保全 举证期限 庭外和解 告他 告对方 被告了 执行法官 执行费 可供执行 诉讼请求 举证期",
        "收到法院传票了|被对方公司起诉了|官司打赢了对方不执行|对方是老赖名下没财产|判决下来了想上诉"
        "|法院说立案材料不全|对方把财产都转移了|开庭时间跟出差冲突了|一审输了不服|对方不出庭怎么判"
        "|我们的账户被法院冻结了|被列为失信被执行人了|仲裁输了想撤销裁决|证据只有微信聊天记录"
        "|诉讼时效快过了|法院的执行一直没进展|对方在外地法院起诉我们|想申请财产保全但没有担保"
        "|判决生效了对方一直拖着不履行|对方提出反诉"
        "|对方说要去法院告我们|法官让我们补交证据|案子拖了一年还没判|我们是被告但根本不认识原告"
        "|对方在庭上说的全是假话|想告对方但不知道他公司在哪|对方上诉了我们要做什么准备"
        "|仲裁委的裁决对方不履行|法院让我们交鉴定费|我们的诉讼请求被驳回了"
        "|对方申请了诉前保全把我们的货扣了|我们收到了应诉通知书|对方在开庭前突然交了一堆新证据"
        "|法院判我们承担连带责任|对方起诉的金额远超实际欠款|案子被发回重审了|对方想庭外和解"
        "|对方在网上立案告我们",
        "起诉需要准备什么材料|诉讼费怎么算|诉讼时效是几年|上诉期限是多少天|仲裁和诉讼哪个好"
        "|开庭需要本人到场吗|强制执行怎么申请|财产保全要多少担保|录音能当证据吗|判决书什么时候生效"
        "|被告不出庭会怎样|管辖权异议怎么提|再审怎么申请|律师费能让对方承担吗|执行不到钱怎么办|调解书有什么效力"
        "|开庭要准备什么|怎么查案子的进度|上诉要交钱吗|证人不出庭证言有效吗|可以申请法院调查取证吗"
        "|仲裁费怎么算|执行款多久到账|庭前调解是必须的吗|举证期限是多久|诉讼代理人要什么手续"
        "|可以不同意调解吗|二审要重新开庭吗|申请执行的期限是多久|发回重审是什么意思"
        "|收到应诉通知书要做什么|一审判决后还能和解吗|法院能查对方的银行流水吗|司法鉴定费谁出",
        "We were served a summons, what should we do?|How long do we have to appeal?"
        "|Should we choose arbitration or court litigation?|How do we enforce a court judgment?"
        "|Can we freeze the debtor's bank account before suing?|What is the limitation period for a claim?"
        "|Are WeChat messages admissible as evidence?|How much are court fees?"
        "|The defendant ignores the judgment|Can we challenge the court's jurisdiction?"
        "|The other side appealed the judgment"
        "|How do we file a lawsuit in China?"
        "|Can we enforce an arbitration award?"
        "|We received a court notice to respond to a claim",
    ),
    "real_estate": _words(
        "房东 房租 租金 租赁 租房 退租 押金 写字楼 厂房 商铺 仓库 物业费 产权 房产证 不动产权证 过户 "
        "网签 开发商 交房 烂尾楼 二手房 首付 按揭 拆迁 征收 土地使用权 宅基地 建设工程 工程款 装修 "
        "违建 转租 租赁合同 不动产 房屋 土地 物业 产权证"
        " 门面 店面 租约 二房东 交房 租户 租客 出租 承租 业主 物业公司 买房 卖房 购房"
        " 房产 不动产证 车位 楼盘 施工 工地 包工头 租期 续租 涨租 公摊 购房合同",
        "房东要提前收回写字楼|租的厂房被认定为违建|开发商逾期交房半年|房东不退押金|租客拖欠房租三个月"
        "|二手房卖家收了定金不卖了|买的房子一直办不下房产证|厂房被划入拆迁范围|商铺转租给别人房东不同意"
        "|装修了一半房东要卖房|交房时发现面积缩水|楼盘烂尾了还在还房贷|承包方拖欠工程款|仓库漏水损坏了货物"
        "|租期到了租客不搬走|房东把房子抵押给了银行|网签后卖家反悔|物业公司乱收费|想租集体土地建厂房"
        "|房东断水断电逼我们搬走"
        "|租客把房子改成了群租|园区管委会要收回我们的厂房|签了购房合同开发商说不卖了|房子买了两年还没网签"
        "|商铺的公摊面积太大了|物业把我们的车位租给了别人|租客装修把承重墙拆了|房东不配合办租赁备案"
        "|业主委员会想换物业|小区外墙脱落砸坏了车|签了租约房东又租给了别人|买的二手房有户口没迁走"
        "|邻居违建挡了我们的采光|开发商把小区绿地改成了停车场|中介隐瞒了房子抵押的情况"
        "|租的仓库被房东抵押给银行了",
        "租房押金不退怎么办|房东可以随时涨房租吗|提前退租要赔多少|二手房过户要交哪些税费|开发商逾期交房怎么赔"
        "|拆迁补偿标准是多少|宅基地可以买卖吗|没有房产证的房子能买吗|买卖不破租赁是什么意思|工程款优先受偿权怎么行使"
        "|商铺租赁合同要注意什么|房屋面积误差多少可以退房|转租需要房东同意吗|违章建筑的租赁合同有效吗"
        "|租房合同要不要备案|房东能随便进出租出去的房子吗|租期最长多少年|房产证多久能办下来"
        "|二手房买卖要找中介吗|交房时要验哪些|公摊面积怎么算|厂房租赁要注意什么|集体土地能租吗"
        "|房子过户要交哪些费用|不动产证丢了怎么补|开发商不给办证怎么办|租赁合同到期不续签要搬吗"
        "|商铺能不能办营业执照看什么|买卖不破租赁怎么理解|农村的房子能买吗",
        "Our landlord wants to end the office lease early|The tenant has not paid rent for three months"
        "|The developer delayed delivery of our apartment|Can the landlord keep the deposit?"
        "|Is a lease of an illegal building valid?|What taxes apply when buying a second-hand flat?"
        "|Our factory is going to be demolished, what compensation do we get?|Can we sublet part of our office?"
        "|The contractor has not been paid for the construction work|Can foreigners buy property in Beijing?"
        "|Our contractor stopped work on the building"
        "|The developer has not given us the property certificate"
        "|Can a tenant sublet without consent?"
        "|Our landlord mortgaged the building we rent",
    ),
    "finance": _words(
        "贷款 借款 银行 利息 利率 高利贷 网贷 民间借贷 担保 保证人 抵押 质押 融资租赁 保理 理财 基金 "
        "私募 证券 股票 债券 上市 IPO 信托 非法集资 非法吸收公众存款 P2P 催收 征信 信用卡 逾期 "
        "小额贷款 融资 票据 承兑汇票 供应链金融 保险 理赔 反洗钱 外汇 跨境支付 ABS 金融"
        " 借钱 欠钱 借条 欠条 还款 还钱 放贷 贷款公司 小贷 砍头息 年化 利滚利 征信报告 对公账户"
        " 承兑 汇票 理财产品 基金公司 券商 保险公司 保单 理赔款 集资 众筹 换汇 结汇 担保公司"
        " 连带担保 经营贷 信用证 保函 对赌协议 对赌 天使轮 A轮 投资协议 估值 回购条款 优先清算权 反稀释 领售权 债权融资 股权融资 定增 两融 股权质押 基金管理人 LP GP",
        "银行贷款到期还不上了|公司准备引进投资人|投资人要求签对赌协议|网贷逾期了天天被催收|给朋友公司的贷款做了担保|理财产品亏了一大半|借出去的钱收不回来"
        "|私募基金到期不兑付|公司想发行债券融资|征信上有逾期记录|商业承兑汇票到期拒付|保险公司拒绝理赔"
        "|公司想在科创板上市|员工集资用于公司经营|信用卡欠款被起诉|抵押的房产被银行拍卖|投资的P2P平台暴雷了"
        "|融资租赁的设备被出租方收回|年化利率超过了36%|外汇汇不出去|应收账款想做保理融资|银行私自扣了我们账户的钱"
        "|网贷平台说借款合同里有服务费|银行说我们公司的贷款要提前收回|用公司名义做了担保现在被银行追"
        "|贷款中介收了好处费没办下来|银行拍卖抵押物的价格很低|被人用我的身份证办了网贷"
        "|借款到期对方说只能先还利息|公司向股东借钱要不要签借款合同|银行让我们买理财才给放贷"
        "|信用证被银行拒付了|我们给供应商开的商票到期付不出|公司准备发一期ABS"
        "|银行把我们的贷款利率上调了|借款人去世了欠的钱谁还|经营贷被银行查出用来买房|分期付款的手续费太高",
        "民间借贷利息最高多少|股权质押要什么手续|借条怎么写才有效|担保人要承担什么责任|网贷利息超过多少不用还|征信逾期多久能消除"
        "|私募基金备案要什么条件|非法集资怎么认定|上市需要满足什么条件|抵押和质押有什么区别|高利贷受法律保护吗"
        "|信用卡逾期会坐牢吗|融资租赁和借款有什么区别|承兑汇票贴现怎么操作|保险理赔被拒怎么办"
        "|借条和欠条有什么区别|利息没约定要付吗|逾期多久上征信|担保人能不能撤销担保|贷款被拒是什么原因"
        "|公司能向个人借钱吗|年化利率怎么算|借钱给公司要不要写借条|众筹合法吗|贷款合同里的违约金合法吗"
        "|连带担保和一般担保有什么区别|保函怎么开|信用证是什么|银行承兑和商业承兑有什么区别"
        "|经营贷逾期会怎样|担保合同要写什么|网贷的服务费合法吗|私募基金能承诺保本吗",
        "What is the maximum legal interest rate on private loans?|Investors want a valuation adjustment (VAM) clause|Our bank loan is due and we cannot repay"
        "|Is a personal guarantee for a company loan enforceable?|Do we need a license to run a private fund?"
        "|What are the listing requirements for the STAR Market?|The insurer refused our claim"
        "|Can we pledge our receivables for financing?|How do we move money out of China legally?"
        "|Is crowdfunding from employees illegal fundraising?|A debt collector keeps harassing me over a loan"
        "|Can the bank call in our loan early?"
        "|Is a loan agreement via WeChat valid?"
        "|What is a letter of credit?"
        "|Can a guarantor withdraw the guarantee?",
    ),
    "other": _words(
        "离婚 结婚 彩礼 抚养权 抚养费 继承 遗嘱 遗产 赡养 交通事故 车祸 酒驾 醉驾 刑事 报警 派出所 "
        "诈骗 盗窃 打架 邻居 邻里 噪音 宠物 狗 医疗事故 网购 退货 消费者 学校 孩子 老人 户口 签证 护照 "
        "身份证 驾照 预约 收费 会员 客服"
        " 老公 老婆 丈夫 妻子 子女 小孩 父母 家暴 出轨 离婚协议 结婚证 领证 撞车 交警 警察"
        " 拘留 被骗 骗子 小偷 网购 外卖 快递 医院 医生 老师 登录 密码 退费 视频咨询 营业时间"
        " 隐私 个人信息 骚扰电话 诽谤 名誉 罚单 年检 驾驶证 行驶证 婚姻 赡养费 监护权 低保"
        " 社区 街道 居委会 婆婆 公公 前男友 前女友 男朋友 女朋友 赌债 看守所 碰瓷 打赏 主播 养老院 航空公司 亲戚",
        "老公出轨了想离婚|父亲去世没留遗嘱|开车被追尾了|楼上邻居天天吵到半夜|网购买到假货商家不退"
        "|孩子在学校被同学欺负|被电信诈骗骗了三万|被邻居家的狗咬了|男方要求退还彩礼|老人被保健品推销骗了钱"
        "|医院手术出了事故|喝了酒开车被查了|兄弟姐妹争遗产|离婚后对方不给抚养费|手机在地铁上被偷了"
        "|身份证被人冒用了|想给孩子改姓|在商场摔倒受伤了|快递丢了快递公司只赔几百块|在平台上预约不了律师"
        "|前夫不让我看孩子|停车时把别人车刮了|家里老人走失了|在健身房办的卡老板跑了|美容院做项目毁容了"
        "|注册的时候手机号填错了|你们的律师能不能上门|孩子考试作弊被学校处分|被传销组织骗了"
        "|老婆偷偷转移家里的存款|丈母娘要求加房产证名字才同意结婚|孩子在游乐场摔伤了"
        "|宠物医院把我的猫治死了|在理发店被办了卡推销|邻居在楼道堆杂物|小孩偷偷在游戏里充了几千块"
        "|银行卡收到陌生人转账不敢动|想查一下律师的执业证|你们的页面一直打不开|付款的时候扣了两次钱"
        "|我的个人信息被卖给了推销公司|物业在我家门口装了摄像头|共享单车刹车坏了把我摔伤"
        "|高铁上有人霸座不让|在公交车上急刹车摔伤了|买的彩票中奖了店主不给|朋友借我车出了事故"
        "|婚礼当天新娘跑了|老人的养老金被子女拿走了|在超市被误认为小偷搜身|开车压线被拍了罚单不服"
        "|健身教练让我受了伤|医美整容失败要求退钱",
        "离婚需要什么手续|孩子抚养权怎么判|遗嘱怎么写才有效|交通事故怎么定责|酒驾会判刑吗|彩礼可以要回来吗"
        "|父母的房子怎么继承|网购七天无理由退货怎么算|被狗咬了怎么索赔|怎么申请法律援助|你们平台怎么收费"
        "|律师咨询怎么预约|会员怎么开通|你们几点下班|怎么修改绑定的手机号|结婚登记要带什么材料"
        "|账号怎么注销|晚上有人值班吗|律师可以电话沟通吗|可以开视频咨询吗|领结婚证要带什么"
        "|家暴可以报警吗|孩子改姓需要对方同意吗|宠物伤人谁负责|收养孩子需要什么条件|你们周末上班吗"
        "|可以用微信付款吗|能不能开个收据|咨询记录在哪里看|律师是真人吗"
        "|结婚需要什么条件|离婚冷静期多久|未成年人犯错父母担责吗|被人诽谤怎么取证|个人信息泄露能告谁"
        "|低保怎么申请|怎么给律师打分评价|可以两个人一起咨询吗"
        "|咨询内容会保密吗",
        "How do I file for divorce in China?|I was in a car accident, who pays?|How do I write a valid will?"
        "|My neighbour's dog bit me|The online shop refuses a refund|How do I book a lawyer on your platform?"
        "|What are your opening hours?|How much does a consultation cost?|I was scammed by a phone fraudster"
        "|Who gets custody of the children after divorce?"
        "|Can I talk to a lawyer by phone?"
        "|How do I change my phone number on the app?"
        "|Is there a lawyer available at night?"
        "|My wife took all our savings"
        "|Can I get a refund on a gym membership?"
        ""
        "|Is my conversation with the lawyer confidential?",
    ),
}
