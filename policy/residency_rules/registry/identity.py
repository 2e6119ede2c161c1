"""Identity and secrets: IAM roles and policies, KMS, Secrets Manager, SSM, ACM, Private CA."""

from . import checked, forbidden, safe
from ._rules import ENC, ID, NET, PROT, PUB, REG

_ATTACH = "attaches a policy to a principal of the site; the policy itself is checked"
_DOCUMENT = "an identity policy: every account, region and bucket it names must be the site's"
_POLICY = "a resource policy: principals stay in the site, nothing public"
_IDP = "its identity provider's URL or metadata is scanned: an identity provider outside the site is refused"
_SSM = "Systems Manager configuration of instances of the site"

_TAG = "a tag: it labels a resource and moves nothing"

# One entry per line: the registry is a table reviewers read and diff line by line.
# fmt: off
TYPES = {
    "aws:iam/accountAlias:AccountAlias": safe("a sign-in alias of the account"),
    "aws:iam/accountPasswordPolicy:AccountPasswordPolicy": safe("password rules for IAM users"),
    "aws:iam/instanceProfile:InstanceProfile": safe("lets instances of the site use a role of the site"),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": checked(_IDP, NET, ID),
    "aws:iam/policy:Policy": checked(_DOCUMENT, ID, REG),
    "aws:iam/policyAttachment:PolicyAttachment": safe(_ATTACH),
    "aws:iam/role:Role": checked("its trust policy may admit only principals of the site", ID, REG),
    "aws:iam/rolePoliciesExclusive:RolePoliciesExclusive": safe("keeps a role's inline policies to the named ones"),
    "aws:iam/rolePolicy:RolePolicy": checked(_DOCUMENT, ID, REG),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": safe(_ATTACH),
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": safe("keeps a role's attached policies to the named ones"),
    "aws:iam/samlProvider:SamlProvider": checked(_IDP, NET, ID),
    "aws:iam/securityTokenServicePreferences:SecurityTokenServicePreferences": safe("which STS token version global endpoints issue"),
    "aws:iam/serverCertificate:ServerCertificate": safe("a TLS certificate for load balancers of the site"),
    "aws:iam/serviceLinkedRole:ServiceLinkedRole": safe("a role an AWS service uses in this account; the service is AWS's"),
    "aws:kms/alias:Alias": safe("a name for a key of the site"),
    "aws:kms/ciphertext:Ciphertext": safe("encrypts a value with a key of the site at deploy time"),
    "aws:kms/customKeyStore:CustomKeyStore": checked("an external key store's proxy endpoint is scanned: keys outside AWS are refused", NET),
    "aws:kms/externalKey:ExternalKey": checked("single-region, protected, 30-day deletion window", REG, PROT),
    "aws:kms/grant:Grant": checked("lets the principal it names use a key; it must be the site's", ID),
    "aws:kms/key:Key": checked("single-region, protected, 30-day deletion window, policy in the site; an operator key's policy leaves its control to the operator", REG, PROT, PUB, ID, ENC),
    "aws:kms/keyPolicy:KeyPolicy": checked(f"{_POLICY}; an operator key's policy leaves its control to the operator", PUB, ID, ENC),
    "aws:kms/replicaExternalKey:ReplicaExternalKey": forbidden("a replica key copies key material into another region", REG),
    "aws:kms/replicaKey:ReplicaKey": forbidden("a replica key copies key material into another region", REG),
    "aws:secretsmanager/secret:Secret": checked("holds a secret: operator key, protected, no replicas, policy in the site", ENC, PROT, REG, PUB, ID),
    "aws:secretsmanager/secretPolicy:SecretPolicy": checked(_POLICY, PUB, ID),
    "aws:secretsmanager/secretRotation:SecretRotation": checked("rotates with a Lambda function that must be the site's", REG, ID),
    "aws:secretsmanager/secretVersion:SecretVersion": safe("a value of a secret of the site"),
    "aws:secretsmanager/tag:Tag": safe(_TAG),
    "aws:ssm/activation:Activation": forbidden("a hybrid activation registers servers outside AWS as managed nodes of the site", NET),
    "aws:ssm/association:Association": checked(f"{_SSM}; its output bucket must be the site's", REG, ID),
    "aws:ssm/defaultPatchBaseline:DefaultPatchBaseline": safe(_SSM),
    "aws:ssm/document:Document": checked("its content is scanned: commands may not reach endpoints outside the site", NET, REG, ID),
    "aws:ssm/maintenanceWindow:MaintenanceWindow": safe(_SSM),
    "aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget": safe(_SSM),
    "aws:ssm/maintenanceWindowTask:MaintenanceWindowTask": checked(f"{_SSM}; its task and output bucket must be the site's", REG, ID),
    "aws:ssm/parameter:Parameter": safe("a configuration value; its value is scanned like every input"),
    "aws:ssm/patchBaseline:PatchBaseline": safe(_SSM),
    "aws:ssm/patchGroup:PatchGroup": safe(_SSM),
    "aws:ssm/serviceSetting:ServiceSetting": checked("an account setting of Systems Manager: public sharing of documents must stay disabled", PUB),
    "aws:ssm/resourceDataSync:ResourceDataSync": checked("syncs inventory to an S3 bucket whose region must be the site's", REG, ID),
    "aws:ram/resourceShare:ResourceShare": checked("a share: no external principals; its principals must be the site's accounts", ID),
    "aws:ram/principalAssociation:PrincipalAssociation": checked("shares with the principal it names: a site account, never an organization or OU", ID),
    "aws:ram/resourceAssociation:ResourceAssociation": checked("adds a resource of the site to a share the pack checks", ID),
    "aws:ram/resourceShareAccepter:ResourceShareAccepter": checked("accepts a share, whose owner must be the site's", ID),
    "aws:acm/certificate:Certificate": safe("a TLS certificate; its domain names are its own names, not destinations"),
    "aws:acm/certificateValidation:CertificateValidation": safe("waits for a certificate of the site to validate"),
    "aws:acmpca/certificate:Certificate": safe("a certificate issued by a private CA of the site"),
    "aws:acmpca/certificateAuthority:CertificateAuthority": checked("a private CA; its revocation list bucket must be the site's", REG, ID),
    "aws:acmpca/certificateAuthorityCertificate:CertificateAuthorityCertificate": safe("installs the certificate of a private CA of the site"),
    "aws:acmpca/permission:Permission": checked("lets a principal use a CA; it must be AWS's or the site's", ID),
    "aws:acmpca/policy:Policy": checked(_POLICY, ID),
}
# fmt: on
