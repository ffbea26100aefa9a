//! The two fixed documents of the V2 service: the service document (`GET api/v2/`), which
//! NuGet.Core requests first to find the feed, and `$metadata`, the entity model from which
//! NuGet.Core learns which functions the feed has (it uses `Search()` only when `$metadata`
//! declares it) and WCF Data Services reads the property types.

use super::atom::PROPERTIES;
use crate::api::urls::FeedUrls;

/// The service document: one collection, `Packages`.
pub fn render_service_document(urls: &FeedUrls) -> Vec<u8> {
    let base = quick_xml::escape::escape(urls.v2_base());
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><service xml:base="{base}" xmlns="http://www.w3.org/2007/app" xmlns:atom="http://www.w3.org/2005/Atom"><workspace><atom:title>Default</atom:title><collection href="Packages"><atom:title>Packages</atom:title></collection></workspace></service>"#
    )
    .into_bytes()
}

/// The `$metadata` document: the `V2FeedPackage` entity type with the properties an entry
/// carries (`Id` and `Version` its key, `Id` also the Atom title, as the gallery mapped it),
/// the `Packages` set and the functions this feed serves.
pub fn render_metadata() -> Vec<u8> {
    let mut properties = String::new();
    for (name, ty) in PROPERTIES {
        let ty = ty.unwrap_or("Edm.String");
        let nullable = !matches!(name, "Id" | "Version") && ty == "Edm.String";
        let mapping = match name {
            "Id" => {
                r#" m:FC_TargetPath="SyndicationTitle" m:FC_ContentKind="text" m:FC_KeepInContent="true""#
            }
            "Summary" => {
                r#" m:FC_TargetPath="SyndicationSummary" m:FC_ContentKind="text" m:FC_KeepInContent="true""#
            }
            "LastUpdated" => {
                r#" m:FC_TargetPath="SyndicationUpdated" m:FC_ContentKind="text" m:FC_KeepInContent="true""#
            }
            "Authors" => {
                r#" m:FC_TargetPath="SyndicationAuthorName" m:FC_ContentKind="text" m:FC_KeepInContent="true""#
            }
            _ => "",
        };
        properties.push_str(&format!(
            r#"<Property Name="{name}" Type="{ty}" Nullable="{nullable}"{mapping}/>"#
        ));
    }
    let string = |name: &str| format!(r#"<Parameter Name="{name}" Type="Edm.String" Mode="In"/>"#);
    let boolean =
        |name: &str| format!(r#"<Parameter Name="{name}" Type="Edm.Boolean" Mode="In"/>"#);
    let collection = r#"ReturnType="Collection(NuGetGallery.OData.V2FeedPackage)" EntitySet="Packages" m:HttpMethod="GET""#;
    let search = format!(
        r#"<FunctionImport Name="Search" {collection}>{}{}{}</FunctionImport>"#,
        string("searchTerm"),
        string("targetFramework"),
        boolean("includePrerelease")
    );
    let find = format!(
        r#"<FunctionImport Name="FindPackagesById" {collection}>{}</FunctionImport>"#,
        string("id")
    );
    let updates = format!(
        r#"<FunctionImport Name="GetUpdates" {collection}>{}{}{}{}{}{}</FunctionImport>"#,
        string("packageIds"),
        string("versions"),
        boolean("includePrerelease"),
        boolean("includeAllVersions"),
        string("targetFrameworks"),
        string("versionConstraints")
    );
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx"><edmx:DataServices m:DataServiceVersion="2.0" m:MaxDataServiceVersion="2.0" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"><Schema Namespace="NuGetGallery.OData" xmlns="http://schemas.microsoft.com/ado/2006/04/edm"><EntityType Name="V2FeedPackage" m:HasStream="true"><Key><PropertyRef Name="Id"/><PropertyRef Name="Version"/></Key>{properties}</EntityType></Schema><Schema Namespace="NuGetGallery" xmlns="http://schemas.microsoft.com/ado/2006/04/edm"><EntityContainer Name="V2FeedContext" m:IsDefaultEntityContainer="true"><EntitySet Name="Packages" EntityType="NuGetGallery.OData.V2FeedPackage"/>{search}{find}{updates}</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>"#
    )
    .into_bytes()
}
