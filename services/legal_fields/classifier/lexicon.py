"""What clients of each legal field write, in their own words, written for this project: the legal terms
of the field (`terms`, also the model's lexicon features), the situations clients describe (`situations`),
the short questions they type as they are (`questions`) and the same in English (`english`).

The generator (`generator`) turns these into labelled questions the way clients type them. An entry says
something a client of that field would say; an entry that could as well belong to another field stays out.
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
        "员工 入职 劳动者 用人单位 考勤 旷工 加班 工作时间 HR",
        "公司不给交社保|老板拖欠工资两个月了|试用期被无故辞退|HR让我签自愿离职申请|天天加班到十点不给加班费"
        "|单位一直不签劳动合同|怀孕后被调岗降薪|上班路上被车撞了|公司说我绩效不合格要辞退我"
        "|离职后公司不给开离职证明|签了竞业协议公司一分补偿没给|公司裁员只给一个月工资|员工连续旷工三天"
        "|员工上班时间摔伤了|公司想辞退一个长期病假的员工|实习生在公司受伤了|offer发了又被公司撤回"
        "|说好的年终奖不发了|公司让员工自愿放弃社保|劳动合同到期公司不续签|社保按最低基数交的"
        "|员工要求补缴前几年的社保|老员工要求签无固定期限合同|工资被扣了一半说是罚款|公司强制996"
        "|公司搬到外地员工不愿意去|休完产假回来岗位没了|试用期被延长了两次|员工离职不做工作交接"
        "|被公司逼着主动辞职|加班不给调休也不给钱|公司用劳务派遣代替正式工|领导口头通知我明天不用来了"
        "|公司拖着不给发最后一个月工资|员工在外地出差期间猝死|入职一年了公司还没给上五险一金"
        "|HR说试用期不交社保|员工手册规定迟到三次就开除",
        "试用期可以约定几个月|试用期最长多久|加班费怎么计算|年假有几天|经济补偿金怎么算|竞业限制补偿标准是多少"
        "|劳动仲裁要多久|工伤怎么认定|工伤赔偿标准是什么|辞职要提前多久通知|被辞退能拿N+1吗"
        "|不签劳动合同能要双倍工资吗|社保断缴有什么影响|产假有多少天|病假工资怎么发"
        "|劳务派遣和劳动合同有什么区别|退休返聘要签劳动合同吗|员工手册有法律效力吗|末位淘汰合法吗"
        "|公积金必须交吗|非全日制用工要交社保吗|试用期工资能打几折|周末加班是两倍工资吗"
        "|裁员要提前通知多久|离职了年假没休能折现吗|孕期能被辞退吗|试用期内辞职要提前几天",
        "Can we dismiss an employee during probation?|How much severance do we owe a laid-off employee?"
        "|Is unpaid overtime legal in China?|My employer has not paid my social insurance"
        "|Do we have to pay non-compete compensation to a former employee?|How long is maternity leave?"
        "|An employee was injured at work, what should we do?|Can HR force me to resign?"
        "|We want to lay off 30 staff, what is the procedure?|Is a 996 work schedule legal?"
        "|How long can a probation period be?|Can my boss cut my salary without my consent?",
    ),
    "contract": _words(
        "合同 违约金 违约 定金 订金 解除合同 合同无效 格式条款 不可抗力 履行 补充协议 框架协议 采购合同 "
        "买卖合同 供货合同 服务合同 合作协议 保密协议 NDA 验收 尾款 货款 付款期限 合同审查 合同起草 "
        "违约责任 合同变更 合同终止 不安抗辩权 情势变更 要约 承诺 电子合同 合同章 骑缝章 代理协议 "
        "经销合同 加工承揽 质保金 预付款 对赌 合同条款 甲方 乙方",
        "对方收了预付款不发货|客户拖欠货款半年不付|供应商交货延迟了两个月|对方单方面解除合同"
        "|合同没盖公章只有签字|甲方验收一直拖着不签字|对方说合同里的违约金太高不认|合作方违反保密协议泄露了报价"
        "|签了框架协议对方不下单|客户以质量问题拒付尾款|合同写错了金额|对方用微信确认的订单现在不认了"
        "|合作方违反排他约定找了我们的竞争对手|原材料涨价想调整合同价格|对方收了定金反悔了"
        "|我们收了客户订金客户又不要了|经销商压货不付款|软件外包项目做完了对方不验收|质保期过了质保金还不退"
        "|对方发来的合同全是格式条款|乙方交付的设备有质量问题|代理商合同到期还在用我们的名义卖货"
        "|合同约定的交货时间赶不上了|对方要求签补充协议降价|电子合同没有手写签名|合同里没写付款时间"
        "|甲方要求我们无限期延长服务|合同对方公司被注销了",
        "违约金最高能约定多少|定金和订金有什么区别|合同没盖章有效吗|电子合同有法律效力吗|口头合同算数吗"
        "|解除合同要怎么通知对方|格式条款无效的情形有哪些|不可抗力能免责吗|合同审查一般看哪些条款"
        "|逾期付款违约金怎么算|补充协议和原合同冲突以哪个为准|合同到期自动续约有效吗"
        "|骑缝章没盖合同有效吗|合同诈骗和合同纠纷怎么区分|签合同要注意什么|保密协议要写哪些内容"
        "|采购合同里验收条款怎么写|预付款不退算违约吗",
        "Is a contract valid without a company chop?|Our supplier delivered late, can we claim the penalty?"
        "|The customer refuses to pay the balance under the sales contract|How high can a liquidated damages clause be?"
        "|Can we terminate the service agreement early?|Please review our distribution agreement"
        "|Is an e-signature binding in China?|The other party breached the NDA, what can we claim?"
        "|Is a verbal agreement enforceable?|What should a software development contract include?",
    ),
    "company": _words(
        "股东 股权 股权转让 注册资本 认缴 实缴 出资 公司章程 股东会 董事会 监事 法定代表人 公司注销 "
        "公司设立 注册公司 营业执照 分公司 子公司 股权激励 期权 持股平台 代持 隐名股东 小股东 大股东 "
        "分红 增资 减资 合并 分立 对赌协议 融资 天使轮 投资协议 公司治理 公司解散 清算 VIE 股东会决议 "
        "工商变更 一人公司 合伙企业 ESOP 创始人 CEO 董监高 关联交易 公司控制权",
        "大股东不让小股东查账|合伙人要退股|股东一直不实缴出资|公司准备引进投资人|想给核心员工发期权"
        "|两个股东各占一半谁也不听谁|法人想辞职公司不给变更|朋友替我代持股份现在不认账|公司要注销但还有欠款"
        "|股东私下把公司业务转到自己公司|投资人要求签对赌协议|创始人想保住公司控制权|想开一家外资公司"
        "|公司准备减资|股东会开会没通知我|公司赚钱了大股东不分红|想把股权转让给外人|挂名当了法人现在公司出事了"
        "|公司要增资老股东不同意|想设立分公司还是子公司|联合创始人离职带走了股份|天使投资人要一票否决权"
        "|公司章程想约定同股不同权|股东抽逃了出资|老板用公司的钱还个人的债",
        "注册公司需要什么材料|认缴出资到期不缴有什么后果|股权转让要交哪些税|小股东有哪些权利"
        "|公司章程可以自己写吗|法定代表人要承担什么责任|一人有限公司股东要承担连带责任吗"
        "|股权激励怎么设计|期权和限制性股权有什么区别|代持协议有效吗|公司简易注销的条件"
        "|股东会决议怎么才算有效|有限公司和股份公司有什么区别|新公司法认缴期限是几年|分公司能独立签合同吗"
        "|股东优先购买权怎么行使|VIE架构有什么风险|董监高有哪些义务",
        "How do we issue stock options to employees?|Can a minority shareholder inspect the books?"
        "|What do we need to set up a WFOE in Shanghai?|Our co-founder left, can we buy back his shares?"
        "|How does the new Company Law change capital contributions?|Is a nominee shareholding agreement valid?"
        "|How do we deregister a company?|Investors want a valuation adjustment (VAM) clause"
        "|What are the duties of a director?|How do we transfer equity to a new shareholder?",
    ),
    "ip": _words(
        "商标 商标注册 商标侵权 专利 发明专利 实用新型 外观设计 著作权 版权 软件著作权 软著 商业秘密 "
        "侵权 抢注 驰名商标 商标异议 专利无效 专利许可 知识产权 仿冒 盗版 山寨 抄袭 域名 品牌 logo "
        "字体 图片版权 音乐版权 源代码 开源协议 GPL 商标续展 专利申请 维权 假货 IP",
        "我们的商标被人抢注了|网店卖我们品牌的假货|竞争对手抄袭我们的产品外观|离职员工带走了源代码"
        "|公众号文章被别人洗稿|我们用的图片被告侵权|别人用了我们的logo|竞品的专利跟我们撞了|我们的APP被人山寨了"
        "|商标快到期了|收到律师函说我们侵犯了专利|软件用了开源代码想闭源商用|外包公司做的设计版权归谁"
        "|展会上发现有人仿冒我们的产品|我们的品牌名被注册成了域名|淘宝上有人盗用我们的产品图|员工发明的技术归谁"
        "|对方用近似商标卖同类产品|短视频用了别人的背景音乐|我们的客户名单被前员工拿走了",
        "商标注册要多久|商标注册选哪些类别|专利申请流程是什么|实用新型和发明专利有什么区别|软著怎么申请"
        "|商业秘密怎么保护|字体侵权怎么赔偿|商标被抢注怎么办|专利侵权赔偿标准|著作权登记有必要吗"
        "|外观设计专利保护几年|商标可以转让吗|开源协议商用要注意什么|驰名商标怎么认定|AI生成的图片有版权吗",
        "Someone registered our trademark in China first|How long does a patent application take?"
        "|A competitor copied our product design|Do we own the copyright in code written by a contractor?"
        "|How do we take down counterfeit listings on Taobao?|We received a patent infringement letter"
        "|Is our logo protected without registration?|A former employee took our trade secrets"
        "|Can we use GPL code in a commercial product?|How do we register software copyright?",
    ),
    "tax": _words(
        "税 纳税 增值税 企业所得税 个人所得税 个税 发票 专票 普票 进项税 销项税 税务稽查 税务局 补税 "
        "滞纳金 偷税 逃税 税收优惠 小规模纳税人 一般纳税人 税率 汇算清缴 印花税 契税 土地增值税 "
        "研发费用加计扣除 高新技术企业 出口退税 虚开发票 税务登记 核定征收 查账征收 个体户 税务筹划 "
        "纳税申报 税负 VAT 全电发票 代扣代缴",
        "税务局通知我们补税|收到税务稽查通知|供应商不给开专票|被认定虚开发票|公司少报了收入"
        "|个税汇算要补好几千|想把公司从一般纳税人转成小规模|出口货物退税一直没批下来|发票开错了要作废"
        "|股东分红要交多少税|公司注销前要清税|员工工资拆成报销避税|收到了税务局的滞纳金通知"
        "|高新企业资格被取消要补税|买的发票被查出来是假的|老板用个人卡收公司货款|个体户核定征收取消了"
        "|进项税发票认证过期了|税务局说我们账目不清要核定",
        "增值税税率是多少|小规模纳税人怎么交税|企业所得税怎么算|个税专项附加扣除有哪些|发票丢了怎么办"
        "|专票和普票有什么区别|滞纳金怎么计算|研发费用加计扣除比例是多少|高新技术企业有哪些税收优惠"
        "|印花税哪些合同要交|税务稽查一般查什么|虚开发票会判刑吗|年终奖个税怎么算|核定征收和查账征收哪个好"
        "|个人独资企业怎么交税|跨年的发票能入账吗",
        "What is the VAT rate for software services?|How is corporate income tax calculated in China?"
        "|We received a notice from the tax bureau to pay back taxes|Can we deduct R&D expenses twice?"
        "|How do we get an export VAT refund?|What are the tax incentives for high-tech enterprises?"
        "|Our supplier refuses to issue a special VAT invoice|Do foreigners pay individual income tax on bonuses?"
        "|What is the withholding tax on dividends paid abroad?|We lost a VAT invoice, what now?",
    ),
    "litigation": _words(
        "起诉 诉讼 上诉 仲裁 一审 二审 再审 判决 裁定 调解 法院 传票 开庭 证据 举证 执行 强制执行 "
        "财产保全 诉讼费 立案 管辖 答辩 被告 原告 失信 老赖 限高 诉讼时效 仲裁裁决 撤销仲裁 律师费 "
        "代理词 送达 缺席判决 执行异议 拍卖 冻结 查封 反诉 公证",
        "收到法院传票了|被对方公司起诉了|官司打赢了对方不执行|对方是老赖名下没财产|判决下来了想上诉"
        "|法院说立案材料不全|对方把财产都转移了|开庭时间跟出差冲突了|一审输了不服|对方不出庭怎么判"
        "|我们的账户被法院冻结了|被列为失信被执行人了|仲裁输了想撤销裁决|证据只有微信聊天记录"
        "|诉讼时效快过了|法院的执行一直没进展|对方在外地法院起诉我们|想申请财产保全但没有担保"
        "|判决生效了对方一直拖着不履行|对方提出反诉",
        "起诉需要准备什么材料|诉讼费怎么算|诉讼时效是几年|上诉期限是多少天|仲裁和诉讼哪个好"
        "|开庭需要本人到场吗|强制执行怎么申请|财产保全要多少担保|录音能当证据吗|判决书什么时候生效"
        "|被告不出庭会怎样|管辖权异议怎么提|再审怎么申请|律师费能让对方承担吗|执行不到钱怎么办|调解书有什么效力",
        "We were served a summons, what should we do?|How long do we have to appeal?"
        "|Should we choose arbitration or court litigation?|How do we enforce a court judgment?"
        "|Can we freeze the debtor's bank account before suing?|What is the limitation period for a claim?"
        "|Are WeChat messages admissible as evidence?|How much are court fees?"
        "|The defendant ignores the judgment|Can we challenge the court's jurisdiction?",
    ),
    "real_estate": _words(
        "房东 房租 租金 租赁 租房 退租 押金 写字楼 厂房 商铺 仓库 物业费 产权 房产证 不动产权证 过户 "
        "网签 开发商 交房 烂尾楼 二手房 首付 按揭 拆迁 征收 土地使用权 宅基地 建设工程 工程款 装修 "
        "违建 转租 租赁合同 不动产 房屋 土地 物业 产权证",
        "房东要提前收回写字楼|租的厂房被认定为违建|开发商逾期交房半年|房东不退押金|租客拖欠房租三个月"
        "|二手房卖家收了定金不卖了|买的房子一直办不下房产证|厂房被划入拆迁范围|商铺转租给别人房东不同意"
        "|装修了一半房东要卖房|交房时发现面积缩水|楼盘烂尾了还在还房贷|承包方拖欠工程款|仓库漏水损坏了货物"
        "|租期到了租客不搬走|房东把房子抵押给了银行|网签后卖家反悔|物业公司乱收费|想租集体土地建厂房"
        "|房东断水断电逼我们搬走",
        "租房押金不退怎么办|房东可以随时涨房租吗|提前退租要赔多少|二手房过户要交哪些税费|开发商逾期交房怎么赔"
        "|拆迁补偿标准是多少|宅基地可以买卖吗|没有房产证的房子能买吗|买卖不破租赁是什么意思|工程款优先受偿权怎么行使"
        "|商铺租赁合同要注意什么|房屋面积误差多少可以退房|转租需要房东同意吗|违章建筑的租赁合同有效吗",
        "Our landlord wants to end the office lease early|The tenant has not paid rent for three months"
        "|The developer delayed delivery of our apartment|Can the landlord keep the deposit?"
        "|Is a lease of an illegal building valid?|What taxes apply when buying a second-hand flat?"
        "|Our factory is going to be demolished, what compensation do we get?|Can we sublet part of our office?"
        "|The contractor has not been paid for the construction work|Can foreigners buy property in Beijing?",
    ),
    "finance": _words(
        "贷款 借款 银行 利息 利率 高利贷 网贷 民间借贷 担保 保证人 抵押 质押 融资租赁 保理 理财 基金 "
        "私募 证券 股票 债券 上市 IPO 信托 非法集资 非法吸收公众存款 P2P 催收 征信 信用卡 逾期 "
        "小额贷款 融资 票据 承兑汇票 供应链金融 保险 理赔 反洗钱 外汇 跨境支付 ABS 金融",
        "银行贷款到期还不上了|网贷逾期了天天被催收|给朋友公司的贷款做了担保|理财产品亏了一大半|借出去的钱收不回来"
        "|私募基金到期不兑付|公司想发行债券融资|征信上有逾期记录|商业承兑汇票到期拒付|保险公司拒绝理赔"
        "|公司想在科创板上市|员工集资用于公司经营|信用卡欠款被起诉|抵押的房产被银行拍卖|投资的P2P平台暴雷了"
        "|融资租赁的设备被出租方收回|年化利率超过了36%|外汇汇不出去|应收账款想做保理融资|银行私自扣了我们账户的钱",
        "民间借贷利息最高多少|借条怎么写才有效|担保人要承担什么责任|网贷利息超过多少不用还|征信逾期多久能消除"
        "|私募基金备案要什么条件|非法集资怎么认定|上市需要满足什么条件|抵押和质押有什么区别|高利贷受法律保护吗"
        "|信用卡逾期会坐牢吗|融资租赁和借款有什么区别|承兑汇票贴现怎么操作|保险理赔被拒怎么办",
        "What is the maximum legal interest rate on private loans?|Our bank loan is due and we cannot repay"
        "|Is a personal guarantee for a company loan enforceable?|Do we need a license to run a private fund?"
        "|What are the listing requirements for the STAR Market?|The insurer refused our claim"
        "|Can we pledge our receivables for financing?|How do we move money out of China legally?"
        "|Is crowdfunding from employees illegal fundraising?|A debt collector keeps harassing me over a loan",
    ),
    "other": _words(
        "离婚 结婚 彩礼 抚养权 抚养费 继承 遗嘱 遗产 赡养 交通事故 车祸 酒驾 醉驾 刑事 报警 派出所 "
        "诈骗 盗窃 打架 邻居 邻里 噪音 宠物 狗 医疗事故 网购 退货 消费者 学校 孩子 老人 户口 签证 护照 "
        "身份证 驾照 预约 收费 会员 客服",
        "老公出轨了想离婚|父亲去世没留遗嘱|开车被追尾了|楼上邻居天天吵到半夜|网购买到假货商家不退"
        "|孩子在学校被同学欺负|被电信诈骗骗了三万|被邻居家的狗咬了|男方要求退还彩礼|老人被保健品推销骗了钱"
        "|医院手术出了事故|喝了酒开车被查了|兄弟姐妹争遗产|离婚后对方不给抚养费|手机在地铁上被偷了"
        "|身份证被人冒用了|想给孩子改姓|在商场摔倒受伤了|快递丢了快递公司只赔几百块|在平台上预约不了律师",
        "离婚需要什么手续|孩子抚养权怎么判|遗嘱怎么写才有效|交通事故怎么定责|酒驾会判刑吗|彩礼可以要回来吗"
        "|父母的房子怎么继承|网购七天无理由退货怎么算|被狗咬了怎么索赔|怎么申请法律援助|你们平台怎么收费"
        "|律师咨询怎么预约|会员怎么开通|你们几点下班|怎么修改绑定的手机号|结婚登记要带什么材料",
        "How do I file for divorce in China?|I was in a car accident, who pays?|How do I write a valid will?"
        "|My neighbour's dog bit me|The online shop refuses a refund|How do I book a lawyer on your platform?"
        "|What are your opening hours?|How much does a consultation cost?|I was scammed by a phone fraudster"
        "|Who gets custody of the children after divorce?",
    ),
}
