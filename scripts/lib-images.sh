# shellcheck shell=bash
# Shared by scripts/images, scripts/check-image and scripts/check-compose: the base images the
# Dockerfile and the compose file name, made here from Debian's packages (no image is pulled
# from a registry), and the names of the images made. Sourced after lib.sh, not run.

SUITE="bookworm"
MIRROR="${IMPRINT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
WORK="${IMPRINT_IMAGES_DIR:-/var/tmp/imprint-images}"

IMAGE_DEBIAN="imprint-base/debian:$SUITE-slim"
IMAGE_POSTGRES="imprint-base/postgres:15-$SUITE"
IMAGE_RABBITMQ="imprint-base/rabbitmq:3.10-$SUITE"
# Named after the toolchain it carries, the one this machine builds with.
rust_image() { echo "imprint-base/rust:$(rustc --version | awk '{print $2}')-$SUITE"; }

# The recipe an image was made from, as a label: an image whose label matches is reused, so a
# second run makes nothing, and a changed recipe (or a changed base under it) makes it again.
image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }
up_to_date() {
  [ "$(docker image inspect -f '{{ index .Config.Labels "imprint.recipe" }}' "$1" 2>/dev/null)" = "$2" ]
}

# What debian:bookworm-slim leaves out of a minimal Debian: documentation but its copyright
# files, manual pages, translations, and apt's package lists and caches, now and for every later
# apt-get install in images built on it.
slim_rootfs() {
  local root="$1"
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d" "$root/etc/apt/apt.conf.d"
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
CFG
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
  cat >"$root/etc/apt/apt.conf.d/docker-no-recommends" <<'CFG'
APT::Install-Recommends "false";
APT::AutoRemove::SuggestsImportant "false";
Acquire::Languages "none";
CFG
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/{groff,info,linda,lintian,locale,man}/*
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/*.log "$root"/tmp/*
}

make_debian_base() {
  local recipe
  recipe="$(declare -f slim_rootfs make_debian_base | cat - <(echo "$SUITE $MIRROR") | sha256sum | cut -c1-16)"
  if up_to_date "$IMAGE_DEBIAN" "$recipe"; then
    say "$IMAGE_DEBIAN is up to date"
    return
  fi
  say "making $IMAGE_DEBIAN with debootstrap ($SUITE, minbase, from $MIRROR)"
  local root="$WORK/rootfs-$SUITE"
  as_root rm -rf "$root"
  mkdir -p "$WORK"
  as_root debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || die "debootstrap failed; see $WORK/debootstrap.log"
  echo "deb $MIRROR $SUITE main" >"$root/etc/apt/sources.list"
  echo "deb $MIRROR $SUITE-updates main" >>"$root/etc/apt/sources.list"
  echo "deb http://deb.debian.org/debian-security $SUITE-security main" >>"$root/etc/apt/sources.list"
  slim_rootfs "$root"
  as_root tar --numeric-owner -C "$root" -c . \
    | docker import --change 'CMD ["bash"]' --change "LABEL imprint.recipe=$recipe" - "$IMAGE_DEBIAN" >/dev/null
  as_root rm -rf "$root"
}

# The recipe of deploy/images/<name>.Dockerfile's image: its files, the Debian base's id and
# whatever else goes in ($2).
derived_recipe() {
  local files=("$REPO/deploy/images/$1.Dockerfile")
  [ -f "$REPO/deploy/images/$1-entrypoint.sh" ] && files+=("$REPO/deploy/images/$1-entrypoint.sh")
  cat "${files[@]}" <(image_id "$IMAGE_DEBIAN") <(echo "${2:-}") | sha256sum | cut -c1-16
}

# docker build of deploy/images/<name>.Dockerfile on the Debian base, reused while the recipe
# is the same. $3 is the build context (deploy/images unless given), $4 what else the recipe
# depends on.
make_derived() {
  local tag="$1" name="$2" context="${3:-$REPO/deploy/images}" recipe
  recipe="$(derived_recipe "$name" "${4:-}")"
  if up_to_date "$tag" "$recipe"; then
    say "$tag is up to date"
    return
  fi
  say "building $tag"
  docker build -q -f "$REPO/deploy/images/$name.Dockerfile" --build-arg "DEBIAN_IMAGE=$IMAGE_DEBIAN" \
    --label "imprint.recipe=$recipe" -t "$tag" "$context" >/dev/null
}

# The build stage's base: the toolchain this machine has, without its documentation, and the
# certificate authorities it trusts (copied only when the image is to be made).
CA_BUNDLE="${IMPRINT_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
make_rust_base() {
  local tag sysroot inputs context="$WORK/rust-context"
  tag="$(rust_image)"
  sysroot="$(rustc --print sysroot)"
  [ -f "$CA_BUNDLE" ] || die "no CA bundle at $CA_BUNDLE (set IMPRINT_CA_BUNDLE)"
  inputs="$(rustc -vV; sha256sum <"$CA_BUNDLE")"
  if ! up_to_date "$tag" "$(derived_recipe rust "$inputs")"; then
    rm -rf "$context"
    mkdir -p "$context/toolchain"
    tar -C "$sysroot" --exclude=./share/doc -c . | tar -C "$context/toolchain" -x
    cp "$CA_BUNDLE" "$context/ca-certificates.crt"
  fi
  make_derived "$tag" rust "$context" "$inputs"
  rm -rf "$context"
}

make_base_images() {
  make_debian_base
  make_rust_base
  make_derived "$IMAGE_POSTGRES" postgres
  make_derived "$IMAGE_RABBITMQ" rabbitmq
}

# The variables deploy/Dockerfile and deploy/compose.yaml take the base images from.
export_image_names() {
  export IMPRINT_RUST_IMAGE IMPRINT_RUNTIME_IMAGE IMPRINT_POSTGRES_IMAGE IMPRINT_RABBITMQ_IMAGE
  IMPRINT_RUST_IMAGE="$(rust_image)"
  IMPRINT_RUNTIME_IMAGE="$IMAGE_DEBIAN"
  IMPRINT_POSTGRES_IMAGE="$IMAGE_POSTGRES"
  IMPRINT_RABBITMQ_IMAGE="$IMAGE_RABBITMQ"
}
