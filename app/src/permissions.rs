//! WeChat's permission sets (权限集, `func_info[].funcscope_category.id`) with their names in both
//! languages (PROTOCOL.md §8). Shared by the server (simulator, audit text) and the UI, so an id is
//! named the same everywhere. Ids not listed here are shown as "permission set N": WeChat adds new
//! ones regularly and an unknown id is data, not an error.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountKind {
    OfficialAccount,
    MiniProgram,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PermissionSet {
    pub id: i64,
    pub kind: AccountKind,
    pub zh: &'static str,
    pub en: &'static str,
    /// May be granted to only one third-party platform at a time (互斥).
    pub exclusive: bool,
}

macro_rules! sets {
    ($( $id:literal, $kind:ident, $zh:literal, $en:literal, $ex:literal; )*) => {
        pub const PERMISSION_SETS: &[PermissionSet] = &[
            $( PermissionSet { id: $id, kind: AccountKind::$kind, zh: $zh, en: $en, exclusive: $ex }, )*
        ];
    };
}

sets! {
    1, OfficialAccount, "消息管理", "Message management", false;
    2, OfficialAccount, "用户管理", "User management", false;
    3, OfficialAccount, "账号服务", "Account services", false;
    4, OfficialAccount, "网页服务", "Web services", true;
    5, OfficialAccount, "微信小店", "WeChat Store", false;
    6, OfficialAccount, "微信多客服", "Multi-customer service", false;
    7, OfficialAccount, "群发与通知", "Mass send and notifications", false;
    8, OfficialAccount, "微信卡券", "Cards and coupons", false;
    9, OfficialAccount, "微信扫一扫", "Scan", false;
    10, OfficialAccount, "微信连WIFI", "Wi-Fi via WeChat", false;
    11, OfficialAccount, "素材管理", "Media management", false;
    12, OfficialAccount, "微信摇周边", "Shake nearby", false;
    13, OfficialAccount, "微信门店", "Stores", false;
    15, OfficialAccount, "菜单管理", "Custom menu", false;
    22, OfficialAccount, "城市服务", "City services", false;
    23, OfficialAccount, "广告管理", "Ad management", false;
    24, OfficialAccount, "开放平台账号管理", "Open Platform account management", true;
    26, OfficialAccount, "微信电子发票", "E-invoices", false;
    27, OfficialAccount, "快速注册小程序", "Fast mini-program registration", false;
    33, OfficialAccount, "小程序关联管理", "Mini-program linking", false;
    34, OfficialAccount, "微信商品库管理", "Product library", true;
    44, OfficialAccount, "好物圈", "Good-things circle", false;
    46, OfficialAccount, "微信一物一码", "One item, one code", false;
    47, OfficialAccount, "微信财政电子票据", "Fiscal e-receipts", false;
    54, OfficialAccount, "服务号对话管理", "Service-account conversations", true;
    66, OfficialAccount, "微信服务市场管理", "Service market", false;
    89, OfficialAccount, "服务号订阅通知", "Subscription notifications", false;
    113, OfficialAccount, "就医助手", "Medical assistant", false;
    17, MiniProgram, "获取小程序码", "Mini-program codes", false;
    18, MiniProgram, "小程序开发与数据分析", "Development and data analysis", true;
    19, MiniProgram, "小程序客服管理", "Customer-service messages", false;
    25, MiniProgram, "开放平台账号管理", "Open Platform account management", true;
    30, MiniProgram, "小程序基本信息管理", "Basic information", false;
    31, MiniProgram, "小程序认证名称检测", "Verification name check", false;
    37, MiniProgram, "附近的小程序管理", "Nearby mini programs", false;
    40, MiniProgram, "小程序插件管理", "Plug-in management", true;
    45, MiniProgram, "微信物流服务", "Logistics services", true;
    48, MiniProgram, "微信财政电子票据管理", "Fiscal e-receipts", false;
    49, MiniProgram, "小程序云开发管理", "Cloud development", true;
    51, MiniProgram, "小程序即时配送", "Instant delivery", true;
    52, MiniProgram, "小程序直播管理", "Live streaming", false;
    65, MiniProgram, "小程序广告管理", "Ad management", false;
    67, MiniProgram, "微信服务市场管理", "Service market", false;
    70, MiniProgram, "标准版交易组件商品管理", "Trade component: products", false;
    71, MiniProgram, "标准版交易组件订单物流与售后管理", "Trade component: orders and after-sale", false;
    73, MiniProgram, "标准版交易组件接入", "Trade component: onboarding", true;
    76, MiniProgram, "小程序违规与交易投诉管理", "Violations and complaints", true;
    81, MiniProgram, "试用小程序快速认证", "Trial mini-program verification", true;
    84, MiniProgram, "标准版交易组件优惠券管理", "Trade component: coupons", false;
    88, MiniProgram, "小程序链接管理", "Mini-program links", false;
    142, MiniProgram, "小程序发货管理服务", "Shipping management", false;
    161, MiniProgram, "微信客服管理", "WeChat customer service", false;
}

pub fn permission_set(id: i64) -> Option<&'static PermissionSet> {
    PERMISSION_SETS.iter().find(|p| p.id == id)
}

/// The English name, or "Permission set N" for an id not in the catalogue.
pub fn name_en(id: i64) -> String {
    permission_set(id).map_or_else(|| format!("Permission set {id}"), |p| p.en.to_owned())
}

/// The Chinese name, or "权限集 N" for an id not in the catalogue.
pub fn name_zh(id: i64) -> String {
    permission_set(id).map_or_else(|| format!("权限集 {id}"), |p| p.zh.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_unknown_ids_get_a_name() {
        let mut ids: Vec<i64> = PERMISSION_SETS.iter().map(|p| p.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert_eq!(name_en(15), "Custom menu");
        assert_eq!(name_zh(19), "小程序客服管理");
        assert_eq!(name_en(999), "Permission set 999");
        assert_eq!(name_zh(999), "权限集 999");
    }
}
