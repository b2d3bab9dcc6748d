#!/usr/bin/env bash
# Packs every LoraRecipes package from this clone into a local NuGet feed, then prints the commands that use it:
#   LoraRecipes.Recipes, LoraRecipes (runtime), LoraRecipes.Build (MSBuild), LoraRecipes.Cli (the dotnet-lora tool,
#   for this machine's RID), LoraRecipes.Templates (dotnet new lora-recipe / lora-project).
#
# Usage: eng/pack-local.sh [--output DIR] [--version VERSION] [--rid RID] [--configuration CONFIG] [--artifacts-path DIR]
#   --output          the feed folder (default: artifacts/local-feed in the clone; git ignores artifacts/)
#   --version         package version (default: <Version of Directory.Build.props>-local.<UTC time>, so NuGet's cache
#                     never serves the copy an earlier run packed under the same version)
#   --rid             the tool's runtime identifier (default: this machine's: linux-x64, linux-arm64, osx-arm64, ...)
#   --artifacts-path  build into this folder instead of each project's bin/ and obj/
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
feed="$root/artifacts/local-feed"
version=""
rid=""
configuration=Release
artifacts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --output) feed=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --rid) rid=$2; shift 2 ;;
    --configuration|-c) configuration=$2; shift 2 ;;
    --artifacts-path) artifacts=(--artifacts-path "$2"); shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "pack-local.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

if [ -z "$version" ]; then
  base=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$root/Directory.Build.props" | head -n 1)
  version="${base:-0.1.0}-local.$(date -u +%Y%m%d%H%M%S)"
fi
if [ -z "$rid" ]; then
  case "$(uname -s)" in Linux) os=linux ;; Darwin) os=osx ;; *) os=win ;; esac
  case "$(uname -m)" in x86_64|amd64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
  if [ "$os" = linux ] && ldd --version 2>&1 | grep -qi musl; then os=linux-musl; fi
  rid="$os-$arch"
fi
mkdir -p "$feed"
feed=$(cd "$feed" && pwd)

# One MSBuild invocation for the five packages (eng/packages.slnf): evaluations and shared builds happen once.
echo "packing LoraRecipes.Recipes, LoraRecipes, LoraRecipes.Cli ($rid), LoraRecipes.Build, LoraRecipes.Templates $version ..." >&2
dotnet pack "$root/eng/packages.slnf" -c "$configuration" "-p:PackageOutputPath=$feed/" "-p:PackageVersion=$version" \
  "-p:ToolPackageRuntimeIdentifiers=$rid" ${artifacts[@]+"${artifacts[@]}"} -nologo -v q >&2

cat <<TEXT

Packed LoraRecipes $version into $feed

1. Let NuGet find the feed: once per machine,
     dotnet nuget add source "$feed" --name lorarecipes-local
   or in a nuget.config beside your project, inside <packageSources>:
     <add key="lorarecipes-local" value="$feed" />

2. Install the tool and the templates:
     dotnet tool install --global LoraRecipes.Cli --version $version --add-source "$feed"
     dotnet new install "$feed/LoraRecipes.Templates.$version.nupkg"
   (a tool installed before: dotnet tool update --global LoraRecipes.Cli --version $version --add-source "$feed")

3. Try it:
     dotnet new lora-project -n Hello --lora-version $version
     cd Hello && dotnet build && dotnet run
TEXT
